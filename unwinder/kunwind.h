// `kunwind`: arm64's arch_stack_walk_reliable() as of v6.13+/v6.17 (arch/arm64/kernel/
// stacktrace.c, reference §8): do_kunwind() over kunwind_next_frame_record() with
//  - fp 8-byte aligned, [fp, fp+16) inside one known stack and above everything consumed so far
//    (records strictly ascend; moving to another stack is one-way);
//  - a {0, 0} record is metadata with its type at fp+16: FINAL ends the walk cleanly only at the
//    task's own pt_regs, PT_REGS is an exception boundary (the walk continues from regs->pc and
//    regs->x29 with source REGS_PC, not reporting regs->lr), anything else is an error;
//  - PAC stripped from every pc; return_to_handler recovered through the graph return stack
//    (nothing found is an error);
// and the reliable consumer, which refuses any REGS_PC entry (v6.17, 805f13e403cd) and more
// than MAX_STACK_ENTRIES (100) entries. Unreliable walks still report the trace
// dump_backtrace() would print.
#pragma once

#include "unwinder/unwind_policy.h"

namespace klpemu::unwinder {

class KunwindUnwinder final : public UnwindPolicy {
  public:
    std::string_view name() const override { return "kunwind"; }
    using UnwindPolicy::unwind;
    void unwind_into(const StackView& view, UnwindResult& result) const override;
    // The first pc is recovered through the graph return stack when it is return_to_handler:
    // that pc is a class of its own, every other pc walks alike.
    std::optional<GuestAddr> pc_class(GuestAddr pc, StopKind stop,
                                      const PcFacts& facts) const override;
};

} // namespace klpemu::unwinder
