// `fp-naive`: the simplest frame-pointer unwinder, the arm64 walker before any reliability work
// (unwind_frame() of v4.x without its bounds checks): follow x29 through {fp, lr} records and
// stop when fp is 0; whatever comes out is called reliable. It has no notion of exception
// boundaries: at an interrupted boundary it starts from the interrupted pc and x29 (as a walk
// from regs does) and never looks at x30, so it misses the caller in every prologue, epilogue,
// leaf function, PLT and ftrace trampoline window (reference §8(c)). A v6.13 {0, 0, type}
// metadata record has fp 0, so it also ends there, reliably and wrongly, below a nested exception.
//
//   fp -> [fp+0] caller's fp   (0 ends the walk)
//         [fp+8] return address
#pragma once

#include "unwinder/unwind_policy.h"

namespace klpemu::unwinder {

class FpNaiveUnwinder final : public UnwindPolicy {
  public:
    std::string_view name() const override { return "fp-naive"; }
    using UnwindPolicy::unwind;
    void unwind_into(const StackView& view, UnwindResult& result) const override;
};

} // namespace klpemu::unwinder
