// The machine observer behind `klpemu run --trace`: it watches every instruction for BL, BLR
// and RET and turns them into function spans per task (CallSpanTracker), and task switches into
// "running" spans per CPU. Return targets are taken from the next PC the CPU executes, so no
// register is read on the hot path. Installed only when a trace was asked for.
#pragma once

#include "emu/machine.h"
#include "scenarios/chrome_trace.h"

#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace klpemu::scenario {

class CallTrace : public emu::ExecutionObserver {
  public:
    CallTrace(emu::Machine& machine, ChromeTraceProcess& process);

    void on_instruction(const emu::InsnEvent& e) override;
    void on_task_switch(int cpu, int from, int to) override;

    // Closes every open span at the current clock.
    void finish();

  private:
    struct Pending {
        enum class Kind { None, Call, Ret };
        Kind kind = Kind::None;
        uint64_t return_addr = 0;
        int task = -1;
    };
    CallSpanTracker& tracker(int task);

    emu::Machine& m_machine;
    ChromeTraceProcess& m_process;
    std::map<int, std::unique_ptr<CallSpanTracker>> m_trackers;
    std::vector<Pending> m_pending;              // Per CPU: a BLR/RET whose target is next PC.
    std::vector<std::optional<std::pair<int, uint64_t>>> m_running; // Per CPU: task, since.
};

} // namespace klpemu::scenario
