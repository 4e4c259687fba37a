// The ftrace trampolines' calling-convention check (abi-clobber, docs/findings.md). A
// trampoline sits between a call site and the traced function: whatever the callbacks do, the
// function must start with the argument registers (x0-x8), the callee-saved and platform
// registers (x18-x29) and SP it was called with; on exit x30 is where the function returns (the
// caller, or return_to_handler when the graph tracer hijacked it) and x9 where the trampoline
// resumes (the function, or a livepatch replacement). return_to_handler must likewise give the
// caller x0-x7 (the return value) and x18-x29, SP unchanged. The check snapshots CpuState at each
// entry and compares it at the matching exit, per task (a task may sleep or be interrupted inside a
// trampoline).
#pragma once

#include "emu/address_filter.h"
#include "emu/cpu_state.h"
#include "emu/guest_addr.h"
#include "emu/machine.h"
#include "emu/observer.h"

#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace klpemu::patcher {

class FtraceAbiCheck final : public emu::ExecutionObserver {
  public:
    // The PCs the check probes.
    struct Probes {
        GuestAddr trampoline;        // ftrace_caller (or ftrace_regs_caller) entry.
        GuestAddr trampoline_ret;    // Its final `ret`/`br`.
        GuestAddr graph_entry;       // return_to_handler.
        GuestAddr graph_ret;         // return_to_handler's final `ret`.
        std::string_view entry_name; // The trampoline's name, for messages.
        GuestAddr second_entry;      // v5.5..v6.1: ftrace_caller beside ftrace_regs_caller.
        // 6.4+ CALL_OPS: ftrace_caller_direct's `br x17` to a direct trampoline, which must
        // find the call site's registers (x30 = rec->ip + 4, x9 = the return address).
        GuestAddr direct_exit;
    };

    // Attaches to `machine` (which must outlive the check).
    FtraceAbiCheck(emu::Machine& machine, Probes probes);
    ~FtraceAbiCheck() override;
    FtraceAbiCheck(const FtraceAbiCheck&) = delete;
    FtraceAbiCheck& operator=(const FtraceAbiCheck&) = delete;

    // The callbacks of `task`'s current trampoline call changed the return address and/or the
    // resume PC: the exit is checked against those.
    void redirected(int task, std::optional<GuestAddr> new_lr, std::optional<GuestAddr> new_pc);

    void on_instruction(const emu::InsnEvent& ev) override;

  private:
    struct Frame {
        emu::CpuState entry;
        std::optional<GuestAddr> new_lr;
        std::optional<GuestAddr> new_pc;
    };
    void check_trampoline_exit(const emu::InsnEvent& ev, bool direct);
    void check_graph_exit(const emu::InsnEvent& ev);

    emu::Machine& m_machine;
    Probes m_probes;
    emu::AddressFilter m_probe_filter;                                    // Every probe address.
    std::unordered_map<int, std::vector<Frame>> m_frames;                 // Per task.
    std::unordered_map<int, std::vector<emu::CpuState>> m_graph_entries;  // Per task.
    std::unordered_map<int, std::pair<GuestAddr, uint64_t>> m_last_probe; // Per task.
};

} // namespace klpemu::patcher
