// callops-order: a CALL_OPS site's BL goes live only after its literal names a callable ops
// (see callops_order_check.h).
#include "patcher/callops_order_check.h"

#include "emu/insn_encoding.h"

#include <fmt/format.h>

namespace klpemu::patcher {

namespace {
constexpr uint64_t kLiteralNops = 0xd503201fd503201fULL; // The compiler's two NOPs.
} // namespace

CallOpsOrderCheck::CallOpsOrderCheck(const FtraceCallSites& sites, const TextTarget& text,
                                     const SymbolTable& symbols,
                                     std::function<bool(uint64_t)> valid_ops)
    : m_sites(sites), m_text(text), m_symbols(symbols), m_valid_ops(std::move(valid_ops)) {}

std::optional<PokeViolation> CallOpsOrderCheck::check(const TextPatch& patch) const {
    if (!a64::is_bl(patch.new_word) || patch.new_word == patch.expected_old) {
        return std::nullopt;
    }
    const CallSite* site = m_sites.find(patch.pc);
    if (site == nullptr || !site->site.ops_literal) {
        return std::nullopt;
    }
    auto literal = m_text.read_u64(*site->site.ops_literal);
    if (!literal.ok() || m_valid_ops(*literal)) {
        return std::nullopt;
    }
    const std::string held = *literal == kLiteralNops
                                 ? std::string("the compiler's nop; nop")
                                 : m_symbols.symbolize(GuestAddr(*literal)).str();
    return PokeViolation{
        "callops-order",
        fmt::format("{}'s BL goes live while its CALL_OPS literal still holds {}: the literal "
                    "must name the site's ops first (ftrace_make_call, ftrace_modify_call)",
                    site->site.function, held),
    };
}

} // namespace klpemu::patcher
