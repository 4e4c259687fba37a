// The brk-at-callsite check (docs/findings.md): a CPU about to execute a BRK in an ftrace call
// site's two words. Kernels before a7ed7b9d0ebb patched AARCH64_BREAK_FAULT into a site whose
// trampoline was out of BL reach (the branch generator's failure value went in as the
// instruction); the BRK then took the CPU down when the function ran. Reported once per PC,
// before the machine's own brk/patched-brk finding for the same instruction.
#pragma once

#include "emu/machine.h"
#include "emu/observer.h"

#include <functional>
#include <set>

namespace klpemu::patcher {

class FtraceBrkCheck final : public emu::ExecutionObserver {
  public:
    // Is `pc` one of a recorded call site's two words (first NOP or rec->ip)?
    using IsSiteWord = std::function<bool(GuestAddr pc)>;
    // Describes the instruction for the message ("brk #0x100").
    using Describe = std::function<std::string(GuestAddr pc, InsnWord word)>;

    // Attaches to `machine` (which must outlive the check).
    FtraceBrkCheck(emu::Machine& machine, IsSiteWord is_site_word, Describe describe);
    ~FtraceBrkCheck() override;
    FtraceBrkCheck(const FtraceBrkCheck&) = delete;
    FtraceBrkCheck& operator=(const FtraceBrkCheck&) = delete;

    void on_instruction(const emu::InsnEvent& ev) override;

  private:
    emu::Machine& m_machine;
    IsSiteWord m_is_site_word;
    Describe m_describe;
    std::set<GuestAddr> m_reported;
};

} // namespace klpemu::patcher
