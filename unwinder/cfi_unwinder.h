// `cfi`: an SFrame-like unwinder (the arm64 SFrame proposal by Weinan Liu and Dylan Hatch,
// reference §8(c)) driven by the CFI the assembler and compiler emitted (emu/cfi_table.h).
// At every pc it computes CFA, the caller's x29 and the return address from the CFI row, so it
// unwinds correctly through prologues, epilogues and leaf functions, where x30 still holds the
// return address. At a PT_REGS metadata record it crosses the exception boundary and continues
// from regs->pc with regs->sp, regs->x29 and regs->lr, which a frame-pointer unwinder cannot do.
//
// Reliable only if every pc on the way is covered by a supported CFI row, every value read
// lies on a known stack, the CFA never descends, return_to_handler is recovered, the trace fits
// in 100 entries, and the walk reaches the task's FINAL record:
//
//   frame (pc, sp, x29, x30?) --row(pc)--> CFA = sp|x29 + off
//       ra     = [CFA + ra.off] | x30 (only while x30 is known: the first frame, after pt_regs)
//       x29'   = [CFA + fp.off] | x29
//       caller = (ra, CFA, x29'); x29' == &task_pt_regs->stackframe (FINAL): done
//                                 x29' -> {0, 0, PT_REGS}: continue from that pt_regs
#pragma once

#include "unwinder/unwind_policy.h"

namespace klpemu::unwinder {

class CfiUnwinder final : public UnwindPolicy {
  public:
    std::string_view name() const override { return "cfi"; }
    using UnwindPolicy::unwind;
    void unwind_into(const StackView& view, UnwindResult& result) const override;
    // The CFI row the first step looks up (its first pc); a pc no row covers is its own class.
    std::optional<GuestAddr> pc_class(GuestAddr pc, StopKind stop,
                                      const PcFacts& facts) const override;
};

} // namespace klpemu::unwinder
