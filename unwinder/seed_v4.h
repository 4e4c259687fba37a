// `seed-v4`: the reliability rule of Torsten Duwe's "arm64: implement ftrace with regs" v4
// (2019, seed 000): "Properly detect the bottom of kthread stacks, by setting a global symbol to
// the address where their LR points to and compare against it". The walk is the 4.19
// unwind_frame() the series was built on: a frame record must be 16-byte aligned (`fp & 0xf`)
// and on an accessible stack; a return_to_handler takes the next graph return entry by index
// (`ret_stack[frame->graph--]`), not by matching retp; the walk ends reliably at a {0, 0} record
// (where an EL0 entry left the chain) or at a record {0, LR} whose LR is the kthread bottom (the
// series' kthread_return_to_user; klpemu takes every call return of the machine's bottom
// functions, StackView::bottom_return_addresses). Anything else is unreliable.
//
// It trusts the chain everywhere in between, so prologue/epilogue/leaf windows stay unsound
// (Mark Rutland's objection in seed 004), and so does a {0, 0} that is not the bottom. On a
// 6.13+ stack, whose metadata records sit at pt_regs + 296 (8 mod 16), it refuses every trace
// that reaches one, as v4's code would have: an era mix that never ran (docs/eras.md).
#pragma once

#include "unwinder/unwind_policy.h"

namespace klpemu::unwinder {

class SeedV4Unwinder final : public UnwindPolicy {
  public:
    std::string_view name() const override { return "seed-v4"; }
    using UnwindPolicy::unwind;
    void unwind_into(const StackView& view, UnwindResult& result) const override;
};

} // namespace klpemu::unwinder
