// Adversarial stacks: each is built so that exactly one rule of a policy stands between a wrong
// trace and "reliable". Deleting that rule makes the policy call a trace reliable that is not
// the truth, and the soundness check below fails (not just a reason string). The rules behind
// each case are named in the test titles; docs/unwinder.md lists them.
#include "unwind_synthetic_stack.h"

#include "unwinder/unwind_policy.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::unwinder;
using namespace klpemu::unwinder::test;

namespace {

using Trace = std::vector<GuestAddr>;

// ret_from_fork -> A -> B -> C, C blocked at C+0x30.
struct Chain {
    SyntheticStack s;
    CfiTable cfi;
    GuestAddr a_rec, b_rec, c_rec;
    std::vector<KnownStack> task_only{
        KnownStack{StackKind::Task, GuestRange{kStackBase, kStackTop}}};

    Chain() {
        a_rec = s.record(s.pt_regs() - 64, s.final_record(), kRetFromForkRet);
        b_rec = s.record(a_rec - 64, a_rec, kFuncA + 0x20);
        c_rec = s.record(b_rec - 64, b_rec, kFuncB + 0x14);
        for (GuestAddr f : {kFuncA, kFuncB, kFuncC}) {
            cfi.add_rows(standard_frame_cfi(f));
        }
    }
    Trace truth() const { return {kFuncC + 0x30, kFuncB + 0x14, kFuncA + 0x20, kRetFromForkRet}; }
    StackView view() const {
        StackView v = s.blocked(Registers{kFuncC + 0x30, GuestAddr(), c_rec, c_rec});
        v.cfi = &cfi;
        return v;
    }
};

// A "reliable" answer must be the truth; an unreliable one may say anything.
void check_sound(std::string_view policy, const StackView& view, const Trace& truth) {
    CAPTURE(policy);
    const UnwindResult r = make_policy(policy)->unwind(view);
    CAPTURE(r.reason);
    CHECK_MESSAGE(!(r.reliable && r.return_addresses != truth), "a wrong trace called reliable");
    CHECK_FALSE(r.reliable); // Every stack here is one the policy must refuse.
}

// A forged record {a_rec, A+0x40} somewhere the walk should never go: following it yields
// C, B, A+0x20, A+0x40, ret_from_fork, a well-formed chain to FINAL with one invented frame.
void forge(Chain& c, GuestAddr at) {
    c.s.record(at, c.a_rec, kFuncA + 0x40);
    c.s.record(c.b_rec, at, kFuncA + 0x20);
}

} // namespace

TEST_CASE("adversarial: a record pointing down (kunwind: strictly ascending; cfi: CFA >= sp)") {
    Chain c;
    forge(c, c.c_rec - 64); // Below C's record: already consumed.
    check_sound("kunwind", c.view(), c.truth());
    check_sound("cfi", c.view(), c.truth());
}

TEST_CASE("adversarial: a loop of records (kunwind: ascending, then the 100-entry cap)") {
    Chain c;
    c.s.record(c.b_rec, c.c_rec, kFuncA + 0x20); // B's caller fp points back at C's record.
    check_sound("kunwind", c.view(), c.truth());
    check_sound("seed-v4", c.view(), c.truth()); // Its loop limit.
    check_sound("fp-naive", c.view(), c.truth());
}

TEST_CASE("adversarial: a misaligned fp (kunwind: 8-aligned; seed-v4: 16-aligned)") {
    Chain c;
    forge(c, c.b_rec + 20); // Between B's and A's records, 4 bytes off alignment.
    check_sound("kunwind", c.view(), c.truth());
    check_sound("seed-v4", c.view(), c.truth());
}

TEST_CASE("adversarial: a record on a stack that is not this task's (known stacks only)") {
    Chain c;
    // The IRQ buffer is mapped memory, but this view knows only the task stack: as if the
    // record pointed into another task's stack.
    forge(c, kIrqBase + 0x100);
    StackView v = StackView::blocked(Registers{kFuncC + 0x30, GuestAddr(), c.c_rec, c.c_rec},
                                     c.s.memory(), c.task_only, c.s.pt_regs());
    v.bottom_return_addresses = std::span<const GuestAddr>(&kRetFromForkRet, 1);
    v.cfi = &c.cfi;
    check_sound("kunwind", v, c.truth());
    check_sound("seed-v4", v, c.truth());
}

TEST_CASE("adversarial: back onto a stack already left (kunwind: leaving a stack consumes it)") {
    Chain c;
    // C's record leads to the IRQ stack, whose record leads back up the task stack.
    const GuestAddr irq_rec = c.s.record(kIrqBase + 0x100, c.b_rec, kFuncA + 0x40);
    c.s.record(c.c_rec, irq_rec, kFuncB + 0x14);
    check_sound("kunwind", c.view(), c.truth());
}

TEST_CASE("adversarial: FINAL in the wrong place (kunwind and cfi: only at the task's pt_regs)") {
    Chain c;
    const GuestAddr fake_final = c.b_rec + 32;
    c.s.write(fake_final, 0);
    c.s.write(fake_final + 8, 0);
    c.s.write(fake_final + 16, uint64_t(FrameMetaType::Final));
    c.s.record(c.b_rec, fake_final, kFuncA + 0x20); // A's caller is lost.
    check_sound("kunwind", c.view(), c.truth());
    check_sound("cfi", c.view(), c.truth());
}

TEST_CASE("adversarial: a chain ending mid-stack at {0, LR} (seed-v4: only at the kthread "
          "bottom)") {
    // A record {0, A+0x40} above B's: 4.19's end of a task's chain, but its LR is not where a
    // kthread starts. (A {0, 0} there is an end v4 accepted: unwind_policies_test.cpp.)
    Chain c;
    const GuestAddr end = c.b_rec + 32;
    c.s.record(end, GuestAddr(), kFuncA + 0x40);
    c.s.record(c.b_rec, end, kFuncA + 0x20);
    check_sound("seed-v4", c.view(), c.truth());
}

TEST_CASE("adversarial: a PT_REGS record after an IRQ in B's prologue (kunwind: exception "
          "boundary)") {
    SyntheticStack s;
    const GuestAddr kHandler{0xffff800008004000};
    const GuestAddr kVectorRet{0xffff800008000884};
    const GuestAddr a_rec = s.record(s.pt_regs() - 64, s.final_record(), kRetFromForkRet);
    // A called B; B was interrupted at its first instruction: A's return address is only in
    // x30 (pt_regs->lr), x29 still points at A's record.
    const GuestAddr sp = a_rec - 32;
    const GuestAddr regs = sp - int64_t(pt_regs::kSize);
    const GuestAddr meta = s.exception_frame(regs, Registers{kFuncB, kFuncA + 0x20, a_rec, sp});
    const GuestAddr h_rec = s.record(regs - 16, meta, kVectorRet);
    const StackView v = s.blocked(Registers{kHandler + 0x10, GuestAddr(), h_rec, h_rec});
    const Trace truth{kHandler + 0x10, kVectorRet, kFuncB, kFuncA + 0x20, kRetFromForkRet};
    // Following the frame records through pt_regs gives a well-formed chain to FINAL that
    // misses A+0x20.
    check_sound("kunwind", v, truth);
}

TEST_CASE("adversarial: a corrupted graph return stack (every policy that recovers)") {
    Chain c;
    c.s.record(c.b_rec, c.a_rec, kReturnToHandler);
    VectorGraphStack graph;
    graph.entries_.push_back(GraphReturnEntry{kFuncA + 0x40, c.b_rec, kFuncB}); // Wrong retp.
    StackView v = c.view();
    v.graph = &graph;
    for (std::string_view policy : {"kunwind", "cfi", "seed-v4"}) {
        check_sound(policy, v, c.truth());
    }
}

TEST_CASE("adversarial: 101 frames (kunwind and cfi: at most 100 entries, as the kernel's "
          "stack_trace_save buffer)") {
    SyntheticStack s;
    CfiTable cfi;
    cfi.add_rows(standard_frame_cfi(kFuncA));
    // 100 recursive frames of A under ret_from_fork: 102 return addresses with the pc. The
    // chain is well formed and complete, but the kernel's reliable walk refuses it.
    GuestAddr rec = s.record(s.pt_regs() - 16, s.final_record(), kRetFromForkRet);
    for (int i = 0; i < 100; ++i) {
        rec = s.record(rec - 16, rec, kFuncA + 0x20);
    }
    StackView v = s.blocked(Registers{kFuncA + 0x30, GuestAddr(), rec, rec});
    v.cfi = &cfi;
    for (std::string_view policy : {"kunwind", "cfi"}) {
        CAPTURE(policy);
        const UnwindResult r = make_policy(policy)->unwind(v);
        CHECK_FALSE(r.reliable);
        CHECK(r.return_addresses.size() <= kMaxStackEntries + 1);
    }
}
