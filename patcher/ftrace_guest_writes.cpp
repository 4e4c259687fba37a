// Ftrace's hookup of the text writes that do not come from its own call-site state machine:
// guest stores through FIX_TEXT_POKE0 (alias_text_writer.h) and the CALL_OPS ordering rule
// every write is checked against (callops_order_check.h). Both use Ftrace's one TextPoke, so
// the per-CPU visibility model sees every writer.
#include "patcher/ftrace.h"

#include <algorithm>

namespace klpemu::patcher {

void Ftrace::install_guest_writes(TextTarget& text) {
    m_alias_writer = std::make_unique<AliasTextWriter>(m_poke, text, [this](GuestAddr addr) {
        return std::any_of(m_sites.all().begin(), m_sites.all().end(),
                           [&](const CallSite& s) { return s.site.ops_literal == addr; });
    });
    m_machine.set_text_alias_writer(m_alias_writer.get());
    if (m_layout.call_ops) {
        m_callops_order = std::make_unique<CallOpsOrderCheck>(
            m_sites, text, m_machine.symbols(), [this](uint64_t ops) {
                return ops == m_list_ops.value ||
                       std::any_of(m_records.begin(), m_records.end(),
                                   [&](const auto& r) { return r.second.value == ops; });
            });
        m_poke.add_check(m_callops_order.get());
    }
}

} // namespace klpemu::patcher
