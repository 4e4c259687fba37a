// The CALL_OPS ordering rule (reference §1; arch/arm64/kernel/ftrace.c): with
// DYNAMIC_FTRACE_WITH_CALL_OPS, ftrace_caller loads the ops to call from the 8-byte literal in
// front of the function (`bic x11, x30, #7; ldur x11, [x11, #-16]`), so the literal must name a
// callable ops for this site *before* the site's BL goes live: ftrace_make_call and
// ftrace_modify_call write the literal first, then the BL; ftrace_make_nop writes the NOP first
// and then puts ftrace_nop_ops back. A BL written while the literal still holds ftrace_nop_ops
// (or the compiler's two NOPs) lets another CPU reach the trampoline with the wrong ops: the
// traced call is lost, or worse. Checked on every write TextPoke makes, the guest's own through
// FIX_TEXT_POKE0 included: `callops-order` (docs/findings.md).
#pragma once

#include "emu/symbol_table.h"
#include "patcher/ftrace_call_sites.h"
#include "patcher/text_poke.h"

#include <functional>

namespace klpemu::patcher {

class CallOpsOrderCheck final : public PokeCheck {
  public:
    // `valid_ops(v)`: `v` is an ops record the trampoline may call for an enabled site
    // (ftrace_list_ops or a registered ops' record). Contract: the references outlive this.
    CallOpsOrderCheck(const FtraceCallSites& sites, const TextTarget& text,
                      const SymbolTable& symbols, std::function<bool(uint64_t)> valid_ops);

    std::optional<PokeViolation> check(const TextPatch& patch) const override;

  private:
    const FtraceCallSites& m_sites;
    const TextTarget& m_text;
    const SymbolTable& m_symbols;
    std::function<bool(uint64_t)> m_valid_ops;
};

} // namespace klpemu::patcher
