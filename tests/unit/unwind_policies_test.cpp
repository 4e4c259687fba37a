// Unit tests of the four unwinder policies on synthetic stacks (no Unicorn): a clean chain to
// the FINAL record, corrupted/misaligned/descending records, an exception boundary in the
// middle, more than 100 frames, graph-tracer return addresses, and the kthread-bottom rule.
#include "unwind_synthetic_stack.h"

#include "unwinder/unwind_policy.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::unwinder;
using namespace klpemu::unwinder::test;

namespace {

using Trace = std::vector<GuestAddr>;

UnwindResult run(std::string_view policy, const StackView& view) {
    auto p = make_policy(policy);
    REQUIRE(p != nullptr);
    return p->unwind(view);
}

// ret_from_fork -> A -> B -> C, C blocked at C+0x30 (its saved pc).
struct Chain {
    SyntheticStack s;
    CfiTable cfi;
    GuestAddr a_rec, b_rec, c_rec;

    Chain() {
        a_rec = s.record(s.pt_regs() - 16, s.final_record(), kRetFromForkRet);
        b_rec = s.record(a_rec - 32, a_rec, kFuncA + 0x20);
        c_rec = s.record(b_rec - 32, b_rec, kFuncB + 0x14);
        for (GuestAddr f : {kFuncA, kFuncB, kFuncC}) {
            cfi.add_rows(standard_frame_cfi(f));
        }
    }
    Registers blocked_in_c() const { return {kFuncC + 0x30, GuestAddr(), c_rec, c_rec}; }
    Trace truth() const { return {kFuncC + 0x30, kFuncB + 0x14, kFuncA + 0x20, kRetFromForkRet}; }
    StackView view(const Registers& r) const {
        StackView v = s.blocked(r);
        v.cfi = &cfi;
        return v;
    }
};

} // namespace

TEST_CASE("unwind: every policy gives the full reliable trace of a clean chain to FINAL") {
    Chain c;
    for (std::string_view policy : policy_names()) {
        CAPTURE(policy);
        const UnwindResult r = run(policy, c.view(c.blocked_in_c()));
        if (policy == "seed-v4") {
            // 4.19's walk wants 16-byte records; the FINAL record sits at top - 40.
            CHECK_FALSE(r.reliable);
            CHECK(r.reason.find("misaligned fp") != std::string::npos);
            continue;
        }
        CHECK(r.reliable);
        CHECK(r.return_addresses == c.truth());
    }
}

TEST_CASE("unwind: seed-v4 on a 4.19 stack: 16-byte records, ends at {0, kthread bottom}") {
    // 4.19 starts a kthread with x29 = 0: the thread function's record is {0, ret_from_fork's
    // return}, which v4 compared with its kthread_return_to_user symbol.
    Chain c;
    c.s.record(c.a_rec, GuestAddr(), kRetFromForkRet);
    const StackView v = c.view(c.blocked_in_c());
    const UnwindResult r = run("seed-v4", v);
    CHECK(r.reliable);
    CHECK(r.return_addresses == c.truth());
    CHECK(r.reason.find("kthread bottom") != std::string::npos);

    SUBCASE("a record 8 bytes off 16 is refused, though 8-aligned") {
        c.s.record(c.a_rec - 8, GuestAddr(), kRetFromForkRet);
        c.s.record(c.b_rec, c.a_rec - 8, kFuncA + 0x20);
        const UnwindResult m = run("seed-v4", v);
        CHECK_FALSE(m.reliable);
        CHECK(m.reason.find("16-byte") != std::string::npos);
        CHECK(run("fp-naive", v).reliable); // The 8-byte rule of today's walkers accepts it.
    }
    SUBCASE("{0, 0} is an end v4 accepted anywhere: a truncated trace it calls reliable") {
        // B's caller fp points at zeroed stack: 4.19's unwind_frame stops at {0, 0} (an EL0
        // entry frame), and v4 took that as the bottom.
        c.s.record(c.b_rec, c.b_rec + 16, kFuncA + 0x20);
        const UnwindResult z = run("seed-v4", v);
        CHECK(z.reliable);
        CHECK(z.return_addresses == Trace{kFuncC + 0x30, kFuncB + 0x14, kFuncA + 0x20});
        CHECK(z.return_addresses != c.truth()); // What the ground truth reports as unsound.
    }
}

TEST_CASE("unwind: a corrupted fp pointing at zeroes") {
    Chain c;
    c.s.record(c.b_rec, c.b_rec + 16, kFuncA + 0x20); // B's caller fp: zeroed stack memory.
    const StackView v = c.view(c.blocked_in_c());
    const UnwindResult naive = run("fp-naive", v);
    CHECK(naive.reliable); // The naive walker calls the truncated chain reliable.
    CHECK(naive.return_addresses == Trace{kFuncC + 0x30, kFuncB + 0x14, kFuncA + 0x20});
    CHECK(run("seed-v4", v).reliable); // So does v4: {0, 0} was an end to it (see above).
    const UnwindResult k = run("kunwind", v);
    CHECK_FALSE(k.reliable);
    CHECK(k.reason.find("unknown type") != std::string::npos);
}

TEST_CASE("unwind: kunwind rejects a misaligned fp") {
    Chain c;
    c.s.record(c.b_rec, c.a_rec + 4, kFuncA + 0x20);
    const UnwindResult k = run("kunwind", c.view(c.blocked_in_c()));
    CHECK_FALSE(k.reliable);
    CHECK(k.reason.find("misaligned") != std::string::npos);
    CHECK_FALSE(run("seed-v4", c.view(c.blocked_in_c())).reliable);
}

TEST_CASE("unwind: kunwind rejects a descending record, records must strictly ascend") {
    Chain c;
    // B's record points back down to C's: a loop the naive walker only stops by its limit.
    c.s.record(c.b_rec, c.c_rec, kFuncA + 0x20);
    const UnwindResult k = run("kunwind", c.view(c.blocked_in_c()));
    CHECK_FALSE(k.reliable);
    CHECK(k.reason.find("unconsumed") != std::string::npos);
    CHECK_FALSE(run("fp-naive", c.view(c.blocked_in_c())).reliable);
}

TEST_CASE("unwind: a record off every known stack") {
    Chain c;
    c.s.record(c.b_rec, GuestAddr(0xffff800020000000), kFuncA + 0x20);
    CHECK_FALSE(run("kunwind", c.view(c.blocked_in_c())).reliable);
    CHECK_FALSE(run("seed-v4", c.view(c.blocked_in_c())).reliable);
    CHECK_FALSE(run("cfi", c.view(c.blocked_in_c())).reliable);
}

TEST_CASE("unwind: a PT_REGS record in the middle (an IRQ interrupted B, handler H blocked)") {
    SyntheticStack s;
    CfiTable cfi;
    const GuestAddr kHandler{0xffff800008004000};
    const GuestAddr kVectorRet{0xffff800008000884};
    for (GuestAddr f : {kFuncA, kFuncB, kHandler}) {
        cfi.add_rows(standard_frame_cfi(f));
    }
    const GuestAddr a_rec = s.record(s.pt_regs() - 16, s.final_record(), kRetFromForkRet);
    const GuestAddr b_rec = s.record(a_rec - 32, a_rec, kFuncA + 0x20);
    // B interrupted at B+0x40 with sp = b_rec; pt_regs at sp - 336.
    const GuestAddr regs = b_rec - int64_t(pt_regs::kSize);
    const GuestAddr meta =
        s.exception_frame(regs, Registers{kFuncB + 0x40, GuestAddr(0x1234), b_rec, b_rec});
    const GuestAddr h_rec = s.record(regs - 16, meta, kVectorRet);
    StackView v = s.blocked(Registers{kHandler + 0x10, GuestAddr(), h_rec, h_rec});
    v.cfi = &cfi;
    const Trace truth{kHandler + 0x10, kVectorRet, kFuncB + 0x40, kFuncA + 0x20, kRetFromForkRet};

    const UnwindResult naive = run("fp-naive", v);
    CHECK(naive.reliable); // Stops at the {0, 0} metadata record: reliable and wrong.
    CHECK(naive.return_addresses == Trace{kHandler + 0x10, kVectorRet});
    CHECK_FALSE(run("seed-v4", v).reliable);

    const UnwindResult k = run("kunwind", v);
    CHECK_FALSE(k.reliable);
    CHECK(k.reason.find("exception boundary") != std::string::npos);
    CHECK(k.return_addresses == truth); // dump_backtrace() would still print it all.

    const UnwindResult cf = run("cfi", v);
    CHECK(cf.reliable);
    CHECK(cf.return_addresses == truth);
}

TEST_CASE("unwind: kunwind refuses more than 100 entries, fp-naive does not care") {
    SyntheticStack s;
    GuestAddr rec = s.record(s.pt_regs() - 16, s.final_record(), kRetFromForkRet);
    for (int i = 0; i < 120; ++i) {
        rec = s.record(rec - 16, rec, kFuncA + 0x20);
    }
    const StackView v = s.blocked(Registers{kFuncB, GuestAddr(), rec, rec});
    const UnwindResult k = run("kunwind", v);
    CHECK_FALSE(k.reliable);
    CHECK(k.reason.find("100-entry trace buffer is full") != std::string::npos);
    CHECK(k.return_addresses.size() == kMaxStackEntries);
    const UnwindResult naive = run("fp-naive", v);
    CHECK(naive.reliable);
    CHECK(naive.return_addresses.size() == 122);
}

// stack_trace_consume_entry returns `c->len < c->size` after storing: the 100th entry already
// ends the walk with -EINVAL, so a complete trace of exactly 100 entries is unreliable and one
// of 99 is the longest the kernel accepts.
TEST_CASE("unwind: kunwind fails at exactly 100 entries and accepts 99") {
    for (int records : {97, 98}) {
        CAPTURE(records);
        SyntheticStack s;
        GuestAddr rec = s.record(s.pt_regs() - 16, s.final_record(), kRetFromForkRet);
        for (int i = 0; i < records; ++i) {
            rec = s.record(rec - 16, rec, kFuncA + 0x20);
        }
        const StackView v = s.blocked(Registers{kFuncB, GuestAddr(), rec, rec});
        const UnwindResult k = run("kunwind", v);
        const size_t entries = size_t(records) + 2; // pc, the records' lrs, ret_from_fork.
        CHECK(k.return_addresses.size() == entries);
        CHECK(k.reliable == (entries < kMaxStackEntries));
    }
}

TEST_CASE("unwind: graph-tracer return_to_handler entries are recovered or make kunwind fail") {
    Chain c;
    // B was graph-traced: its saved lr is return_to_handler; the ret_stack has the original,
    // keyed by retp = the caller's (A's) frame record.
    c.s.record(c.b_rec, c.a_rec, kReturnToHandler);
    VectorGraphStack graph;
    graph.entries_.push_back(GraphReturnEntry{kFuncA + 0x20, c.a_rec, kFuncB});
    StackView v = c.view(c.blocked_in_c());
    v.graph = &graph;

    SUBCASE("recoverable") {
        for (std::string_view policy : {"kunwind", "cfi"}) {
            CAPTURE(policy);
            const UnwindResult r = run(policy, v);
            CHECK(r.reliable);
            CHECK(r.return_addresses == c.truth());
        }
        // The naive walker reports return_to_handler itself, reliably: a wrong trace.
        const UnwindResult naive = run("fp-naive", v);
        CHECK(naive.reliable);
        CHECK(naive.return_addresses[2] == kReturnToHandler);
    }
    SUBCASE("corrupted entry: never a wrong reliable trace") {
        graph.entries_[0].retp = c.b_rec; // Does not match the next record's fp.
        const UnwindResult k = run("kunwind", v);
        CHECK_FALSE(k.reliable);
        CHECK(k.reason.find("ret_stack") != std::string::npos);
        CHECK_FALSE(run("cfi", v).reliable);
    }
    SUBCASE("tail-call entries holding return_to_handler are skipped") {
        graph.entries_.push_back(GraphReturnEntry{kReturnToHandler, c.a_rec, kFuncC});
        const UnwindResult k = run("kunwind", v);
        CHECK(k.reliable);
        CHECK(k.return_addresses == c.truth());
    }
}

TEST_CASE("unwind: seed-v4 rejects a {0, LR} end anywhere but the kthread bottom") {
    Chain c;
    // A's record ends the chain with fp 0 but its LR is not ret_from_fork's return.
    c.s.record(c.a_rec, GuestAddr(), kFuncA + 0x40);
    const StackView v = c.view(c.blocked_in_c());
    const UnwindResult seed = run("seed-v4", v);
    CHECK_FALSE(seed.reliable);
    CHECK(seed.reason.find("not at the kthread bottom") != std::string::npos);
    CHECK(seed.return_addresses.size() == 4);
}

TEST_CASE("unwind: seed-v4 recovers graph entries by index, as 4.19's unwind_frame did") {
    // B was graph-traced (its saved lr is return_to_handler, entry 0). C's own entry (1) has
    // been pushed but C's lr not yet replaced: the window inside prepare_ftrace_return. The
    // n-th return_to_handler takes ret_stack[curr - n]: B's frame gets C's entry.
    Chain c;
    c.s.record(c.a_rec, GuestAddr(), kRetFromForkRet); // 4.19's task bottom.
    c.s.record(c.b_rec, c.a_rec, kReturnToHandler);
    VectorGraphStack graph;
    graph.entries_.push_back(GraphReturnEntry{kFuncA + 0x20, c.a_rec, kFuncB});
    StackView v = c.view(c.blocked_in_c());
    v.graph = &graph;
    const UnwindResult one = run("seed-v4", v);
    CHECK(one.reliable);
    CHECK(one.return_addresses == c.truth());

    graph.entries_.push_back(GraphReturnEntry{kFuncB + 0x14, c.b_rec, kFuncC});
    const UnwindResult two = run("seed-v4", v);
    CHECK(two.reliable);
    CHECK(two.return_addresses ==
          Trace{kFuncC + 0x30, kFuncB + 0x14, kFuncB + 0x14, kRetFromForkRet}); // Wrong.
    const UnwindResult k = run("kunwind", v); // Matches retp: B's frame gets entry 0.
    CHECK(k.return_addresses[2] == kFuncA + 0x20);

    SUBCASE("a return_to_handler with the ret_stack used up is refused") {
        graph.entries_.clear();
        const UnwindResult none = run("seed-v4", v);
        CHECK_FALSE(none.reliable);
        CHECK(none.reason.find("ret_stack") != std::string::npos);
    }
}

TEST_CASE("unwind: interrupted in a prologue, only cfi gets the caller right") {
    Chain c;
    // A called B at A+0x1c; B is about to run its first instruction: lr holds A+0x20 and no
    // record for B exists yet; x29 is still A's.
    const Registers r{kFuncB, kFuncA + 0x20, c.a_rec, c.b_rec + 16};
    StackView v = c.s.interrupted(r);
    v.cfi = &c.cfi;
    const Trace truth{kFuncB, kFuncA + 0x20, kRetFromForkRet};

    const UnwindResult naive = run("fp-naive", v);
    CHECK(naive.reliable);
    CHECK(naive.return_addresses == Trace{kFuncB, kRetFromForkRet}); // Misses A.

    const UnwindResult k = run("kunwind", v);
    CHECK_FALSE(k.reliable);
    CHECK(k.reason.find("exception boundary") != std::string::npos);
    CHECK(k.return_addresses == Trace{kFuncB, kRetFromForkRet});

    const UnwindResult cf = run("cfi", v);
    CHECK(cf.reliable);
    CHECK(cf.return_addresses == truth);
}

TEST_CASE("unwind: cfi is unreliable where CFI does not cover a pc") {
    Chain c;
    CfiTable partial;
    partial.add_rows(standard_frame_cfi(kFuncC));
    StackView v = c.view(c.blocked_in_c());
    v.cfi = &partial;
    const UnwindResult r = run("cfi", v);
    CHECK_FALSE(r.reliable);
    CHECK(r.reason.find("no CFI covers") != std::string::npos);
}

TEST_CASE("unwind: the virtual pt_regs is served by the view, not written") {
    Chain c;
    const Registers r{kFuncB + 8, kFuncA + 0x20, c.b_rec, c.b_rec};
    const StackView v = c.s.interrupted(r);
    const GuestAddr regs = c.b_rec - int64_t(pt_regs::kSize);
    CHECK(v.read_u64(regs + int64_t(pt_regs::kPc)) == (kFuncB + 8).value);
    CHECK(v.read_u64(regs + int64_t(pt_regs::kMetaType)) == uint64_t(FrameMetaType::PtRegs));
    CHECK(c.s.memory().read_u64(regs + int64_t(pt_regs::kPc)) == 0u);
}

TEST_CASE("unwind: return_to_handler without a graph stack is never reported reliably") {
    Chain c;
    c.s.record(c.b_rec, c.a_rec, kReturnToHandler);
    StackView v = c.view(c.blocked_in_c());
    v.return_to_handler = kReturnToHandler; // Known by symbol, ret_stack not wired up.
    for (std::string_view policy : {"seed-v4", "kunwind", "cfi"}) {
        CAPTURE(policy);
        CHECK_FALSE(run(policy, v).reliable);
    }
}
