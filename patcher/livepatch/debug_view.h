// The livepatch engine's page in the step debugger (emu/debug_view.h): what a kernel developer
// would read from /sys/kernel/livepatch, /proc/PID/patch_state and a debugger on
// kernel/livepatch/transition.c at this instruction. Per task: patch_state and
// TIF_PATCH_PENDING with what klp_try_switch_task() would decide now; the transition's patch,
// target and direction; each patched address's func stack (struct klp_ops) and the version
// klp_ftrace_handler() would send each task to. Every answer is computed without side effects:
// the walk is the scenario's reliable unwinder, but no finding is raised and no task switched.
// Private to the engine; Livepatch registers it with its machine for as long as it lives.
#pragma once

#include "emu/debug_view.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::patcher::livepatch {

class Livepatch;

class LivepatchDebugView final : public emu::DebugView {
  public:
    // Contract: `engine` outlives the view.
    explicit LivepatchDebugView(const Livepatch& engine) : m_engine(engine) {}

    std::string_view name() const override { return "livepatch"; }
    std::string task_note(int task) const override;
    std::vector<std::string> patch_lines() const override;
    std::vector<std::string> stack_lines(int task) const override;
    uint64_t transition_events() const override;
    std::string last_transition_event() const override;

  private:
    // klp_try_switch_task's decision for `task` now, as one phrase ("would switch", "refused:
    // running on cpu1 (-EBUSY)", ...); `trace` receives the walk it made, if any.
    std::string switch_verdict(int task, std::string* trace) const;
    // "busy_work_func runs klp_busy:new_busy_work_func" for every patched address.
    std::vector<std::string> handler_choices(int task) const;

    const Livepatch& m_engine;
};

} // namespace klpemu::patcher::livepatch
