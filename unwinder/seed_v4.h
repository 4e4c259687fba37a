// `seed-v4`: the reliability rule of Torsten Duwe's "arm64: implement ftrace with regs" v4
// (2019, seed 000): "Properly detect the bottom of kthread stacks, by setting a global symbol to
// the address where their LR points to and compare against it." The walk is the v5.0-era
// unwind_frame(): frame records on an accessible stack, 8-byte aligned fp, graph-tracer
// recovery, ending at a {0, 0} record, or at a record {0, LR} where the era starts a task with
// x29 = 0 (4.19..5.13, emu/kernel_era.h); the trace is reliable only if that end is the kthread
// bottom, i.e. the last return address is one of StackView::bottom_return_addresses (the
// return address of ret_from_fork's call into the thread function).
//
// It rejects every chain that ends anywhere else (a nested exception's {0, 0} record, a
// truncated chain) where fp-naive would say reliable. It still trusts the chain everywhere in
// between, so prologue/epilogue/leaf windows above the bottom frame stay unsound: exactly
// Mark Rutland's objection in seed 004.
#pragma once

#include "unwinder/unwind_policy.h"

namespace klpemu::unwinder {

class SeedV4Unwinder final : public UnwindPolicy {
  public:
    std::string_view name() const override { return "seed-v4"; }
    UnwindResult unwind(const StackView& view) const override;
};

} // namespace klpemu::unwinder
