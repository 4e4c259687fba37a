// The brk-at-callsite check (see ftrace_brk_check.h).
#include "patcher/ftrace_brk_check.h"

#include "emu/insn_encoding.h"

#include <fmt/format.h>

namespace klpemu::patcher {

FtraceBrkCheck::FtraceBrkCheck(emu::Machine& machine, IsSiteWord is_site_word, Describe describe)
    : m_machine(machine), m_is_site_word(std::move(is_site_word)), m_describe(std::move(describe)) {
    m_machine.add_observer(this);
}

FtraceBrkCheck::~FtraceBrkCheck() {
    m_machine.remove_observer(this);
}

void FtraceBrkCheck::on_instruction(const emu::InsnEvent& ev) {
    if (!a64::brk_imm(ev.word) || !m_is_site_word(ev.pc) || !m_reported.insert(ev.pc).second) {
        return;
    }
    m_machine.report("brk-at-callsite", Severity::Fatal, ev.pc, ev.cpu, ev.task,
                     fmt::format("about to execute {} at an ftrace call site: a failed patch",
                                 m_describe(ev.pc, ev.word)));
}

} // namespace klpemu::patcher
