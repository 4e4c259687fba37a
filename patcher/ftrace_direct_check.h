// The direct trampolines' calling-convention check (abi-clobber, docs/findings.md). With
// DYNAMIC_FTRACE_WITH_DIRECT_CALLS (6.4+) a traced function's call site reaches a custom
// trampoline (a BPF trampoline, a module's my_tramp) either by its own BL or through
// ftrace_caller's `br x17`; in both cases the trampoline starts with x30 = the function's body
// (rec->ip + 4) and x9 = the function's return address, and must enter the body with x0-x8,
// x18-x29 and SP as it found them and x30 = that return address. ftrace's own trampolines are
// checked by FtraceAbiCheck; a direct trampoline is the user's code, so it gets this check of
// its own: its entry is a PC that is a registered direct target with x30 at a call site's body,
// its exit the first instruction of that body. A trampoline that returns to the caller instead
// (skipping the function, as an fmod_ret BPF program may) ends the frame unchecked.
#pragma once

#include "emu/cpu_state.h"
#include "emu/guest_addr.h"
#include "emu/machine.h"
#include "emu/observer.h"

#include <functional>
#include <unordered_map>
#include <vector>

namespace klpemu::patcher {

class FtraceDirectCheck final : public emu::ExecutionObserver {
  public:
    // Is `pc` a registered direct trampoline (cheap: asked at every instruction)?
    using IsTarget = std::function<bool(GuestAddr pc)>;
    // Is `pc` the direct trampoline of the call site whose rec->ip is `rec_ip`?
    using IsDirectEntry = std::function<bool(GuestAddr pc, GuestAddr rec_ip)>;

    // Attaches to `machine` (which must outlive the check).
    FtraceDirectCheck(emu::Machine& machine, IsTarget is_target, IsDirectEntry is_direct_entry);
    ~FtraceDirectCheck() override;
    FtraceDirectCheck(const FtraceDirectCheck&) = delete;
    FtraceDirectCheck& operator=(const FtraceDirectCheck&) = delete;

    // Turns the per-instruction probe on while a direct ops is registered.
    void set_active(bool active) { m_active = active; }

    void on_instruction(const emu::InsnEvent& ev) override;

  private:
    struct Frame {
        emu::CpuState entry; // x30 = the body, x9 = the function's return address.
        uint64_t instruction = 0;
    };

    emu::Machine& m_machine;
    IsTarget m_is_target;
    IsDirectEntry m_is_direct_entry;
    bool m_active = false;
    std::unordered_map<int, std::vector<Frame>> m_frames; // Per task.
};

} // namespace klpemu::patcher
