// Unit test of the per-step checker without a machine: boundaries are fed by hand over a
// synthetic stack, so the finding's text and the statistics are pinned exactly.
#include "unwind_synthetic_stack.h"

#include "emu/insn_encoding.h"
#include "unwinder/reliability_checker.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::unwinder;
using namespace klpemu::unwinder::test;

namespace {

struct Regs final : RegisterReader {
    uint64_t fp = 0, lr = 0, sp = 0, x9 = 0, x10 = 0;
    uint64_t x(unsigned n) const override {
        return n == 29 ? fp : n == 30 ? lr : n == 31 ? sp : n == 9 ? x9 : n == 10 ? x10 : 0;
    }
};

// An object `name` with P at kFuncA and `second` at kFuncB.
LoadedObject object(const std::string& name = "k.o", const std::string& second = "Q") {
    LoadedObject o;
    o.name = name;
    o.symbols.push_back(Symbol{"P", kFuncA, 0x100, SymbolKind::Function, true, name});
    o.symbols.push_back(Symbol{second, kFuncB, 0x100, SymbolKind::Function, true, name});
    o.sections.push_back(PlacedSection{
        ".text", SectionKind::Text, GuestRange{kFuncA, kFuncB + 0x100}, 4, true, false, {}});
    return o;
}

SymbolTable symbols() {
    SymbolTable t;
    t.add_object(object());
    return t;
}

} // namespace

TEST_CASE("checker: a prologue window is an unsound-reliable-trace finding for fp-naive only") {
    SyntheticStack s;
    const SymbolTable syms = symbols();
    CheckerConfig cfg;
    cfg.policies = {"fp-naive", "kunwind"};
    ReliabilityChecker c(cfg, s.memory(), syms, nullptr);
    c.add_task(1, TaskContext{"t", {s.stacks().begin(), s.stacks().end()}, s.pt_regs()});

    Regs r;
    r.fp = s.final_record().value;
    r.sp = s.pt_regs().value;
    auto step = [&](GuestAddr pc, InsnWord w) { c.on_instruction(Boundary{1, 0, pc, w, 0, &r}); };
    step(kFuncA, a64::nop());                              // P runs with x29 at the FINAL record.
    step(kFuncA + 8, a64::bl(kFuncA + 8, kFuncB).value()); // bl Q
    r.lr = (kFuncA + 12).value;
    step(kFuncB, a64::nop()); // Q's first instruction: caller only in x30.
    step(kFuncB, a64::nop()); // Same boundary again: one finding only.

    REQUIRE(c.findings().size() == 1);
    const Finding& f = c.findings()[0];
    CHECK(f.kind == "unsound-reliable-trace");
    CHECK(f.where == "Q");
    CHECK(f.task == "t");
    CHECK(f.message == "unwinder: fp-naive: reliable trace misses P+0xc (interrupted); "
                       "trace: Q; truth: Q <- P+0xc");
    CHECK(c.stats("fp-naive").checked == 4);
    CHECK(c.stats("fp-naive").reliable_correct == 2);
    CHECK(c.stats("fp-naive").unsound == 2);
    CHECK(c.stats("kunwind").unreliable == 4);
    CHECK(c.stats("kunwind").unsound == 0);
    CHECK(c.function_stats().at("Q").at("fp-naive").unsound == 2);
}

TEST_CASE("checker: a task attached late is skipped, never judged") {
    SyntheticStack s;
    const SymbolTable syms = symbols();
    ReliabilityChecker c(CheckerConfig{}, s.memory(), syms, nullptr);
    TaskContext ctx{"late", {s.stacks().begin(), s.stacks().end()}, s.pt_regs()};
    ctx.truth_from_start = false;
    c.add_task(2, ctx);
    Regs r;
    r.fp = s.final_record().value;
    r.sp = s.pt_regs().value;
    c.on_instruction(Boundary{2, 0, kFuncB, a64::nop(), 0, &r});
    CHECK(c.findings().empty());
    CHECK(c.stats("fp-naive").skipped == 1);
    CHECK(c.stats("fp-naive").checked == 0);
}

// A module unloaded and another loaded at the same address: the checker's per-address facts
// (which function a pc counts under, its pc class) are of the old module until refresh_symbols
// forgets them, even where the new module's instruction word is the same.
TEST_CASE("checker: after refresh_symbols a reused address counts under its new function") {
    SyntheticStack s;
    SymbolTable syms = symbols();
    ReliabilityChecker c(CheckerConfig{}, s.memory(), syms, nullptr);
    c.add_task(1, TaskContext{"t", {s.stacks().begin(), s.stacks().end()}, s.pt_regs()});
    Regs r;
    r.fp = s.final_record().value;
    r.sp = s.pt_regs().value;
    c.on_instruction(Boundary{1, 0, kFuncB, a64::nop(), 0, &r});
    REQUIRE(c.function_stats().at("Q").at("fp-naive").checked == 1);

    syms.remove_object("k.o");
    syms.add_object(object("m.o", "R"));
    c.refresh_symbols();
    c.on_instruction(Boundary{1, 0, kFuncB, a64::nop(), 0, &r});
    const auto rows = c.function_stats();
    CHECK(rows.at("Q").at("fp-naive").checked == 1);
    REQUIRE(rows.count("R") == 1);
    CHECK(rows.at("R").at("fp-naive").checked == 1);
}

namespace {

// Every statistic of `a` equals `b`'s, in total and per function.
void require_same_statistics(const ReliabilityChecker& a, const ReliabilityChecker& b) {
    const auto same = [](const PolicyStats& x, const PolicyStats& y) {
        return x.checked == y.checked && x.reliable_correct == y.reliable_correct &&
               x.unreliable == y.unreliable && x.unsound == y.unsound && x.skipped == y.skipped;
    };
    for (std::string_view p : a.policies()) {
        INFO("policy " << p);
        CHECK(a.stats(p).checked > 0);
        CHECK(same(a.stats(p), b.stats(p)));
    }
    const auto fa = a.function_stats();
    const auto fb = b.function_stats();
    REQUIRE(fa.size() == fb.size());
    for (const auto& [fn, row] : fa) {
        for (const auto& [p, st] : row) {
            INFO(fn << " " << p);
            CHECK(same(st, fb.at(fn).at(p)));
        }
    }
}

} // namespace

// The incremental checker counts a reused verdict once per walk and adds the counts up later
// (MemoizedWalk::pending): before the verdicts change, before the walks are forgotten or
// evicted, and whenever statistics are read. Each step is compared with the full-walk reference.
TEST_CASE("checker: deferred statistics equal the full walk's across verdict changes, "
          "refreshes and evictions") {
    SyntheticStack s;
    const SymbolTable syms = symbols();
    CheckerConfig inc_cfg;
    CheckerConfig full_cfg;
    full_cfg.full_walk = true;
    ReliabilityChecker inc(inc_cfg, s.memory(), syms, nullptr);
    ReliabilityChecker full(full_cfg, s.memory(), syms, nullptr);
    for (ReliabilityChecker* c : {&inc, &full}) {
        c->add_task(1, TaskContext{"t", {s.stacks().begin(), s.stacks().end()}, s.pt_regs()});
    }
    Regs r;
    r.fp = s.final_record().value;
    r.sp = s.pt_regs().value;
    r.lr = (kFuncA + 12).value;
    auto step = [&](GuestAddr pc, InsnWord w) {
        for (ReliabilityChecker* c : {&inc, &full}) {
            c->on_instruction(Boundary{1, 0, pc, w, 0, &r});
        }
    };

    // The same boundary three times, statistics read, twice more: read before and after.
    for (int i = 0; i < 3; ++i) {
        step(kFuncB, a64::nop());
    }
    require_same_statistics(inc, full);
    step(kFuncB, a64::nop());
    step(kFuncB, a64::nop());

    // The same key with another shadow stack (a call pushed P+0xc): new verdicts for that walk.
    step(kFuncA + 8, a64::bl(kFuncA + 8, kFuncB).value());
    step(kFuncB, a64::nop());
    step(kFuncB, a64::nop());
    require_same_statistics(inc, full);

    // Walks forgotten with counts pending.
    step(kFuncB, a64::nop());
    inc.refresh_symbols();
    full.refresh_symbols();
    step(kFuncB, a64::nop());
    require_same_statistics(inc, full);

    // More keys than a view's memo holds: evicted walks' counts are added, not lost.
    for (int pass = 0; pass < 2; ++pass) {
        for (uint64_t i = 0; i < ReliabilityChecker::kWalksPerView + 40; ++i) {
            r.sp = s.pt_regs().value - 16 * (i % 64);
            r.lr = (kFuncA + 12).value + 4 * (i / 64) * 0x1000;
            step(kFuncB, a64::nop());
        }
    }
    require_same_statistics(inc, full);
}

// check_view's fast path counts a boundary under the walk the same pc used last with the same
// task and registers. Each test below changes exactly one thing the verdict depends on between
// two checks of one pc with the same registers, and compares the incremental checker with the
// full walk after every step: each is the only test that fails when that rule of the fast path
// is deleted.
namespace {

struct FastPathRun {
    SyntheticStack s;
    SymbolTable syms = symbols();
    ReliabilityChecker inc{config(false), s.memory(), syms, nullptr};
    ReliabilityChecker full{config(true), s.memory(), syms, nullptr};
    Regs r;

    static CheckerConfig config(bool full_walk) {
        CheckerConfig c;
        c.policies = {"fp-naive"};
        c.full_walk = full_walk;
        return c;
    }
    FastPathRun() {
        for (ReliabilityChecker* c : {&inc, &full}) {
            c->add_task(1, TaskContext{"t", {s.stacks().begin(), s.stacks().end()}, s.pt_regs()});
        }
        r.fp = s.final_record().value;
        r.sp = s.pt_regs().value;
    }
    void step(GuestAddr pc, InsnWord w) {
        for (ReliabilityChecker* c : {&inc, &full}) {
            c->on_instruction(Boundary{1, 0, pc, w, 0, &r});
        }
        require_same_statistics(inc, full);
        REQUIRE(inc.findings().size() == full.findings().size());
    }
    // P runs, calls Q, and Q's prologue saves {x29, x30} at sp - 16 and points x29 there.
    GuestAddr enter_q() {
        step(kFuncA, a64::nop());
        step(kFuncA + 8, a64::bl(kFuncA + 8, kFuncB).value());
        r.lr = (kFuncA + 12).value;
        step(kFuncB, InsnWord(0xa9bf7bfdu)); // stp x29, x30, [sp, #-16]!
        const GuestAddr rec = s.record(s.pt_regs() - 16, s.final_record(), kFuncA + 12);
        r.sp = rec.value;
        step(kFuncB + 4, InsnWord(0x910003fdu)); // mov x29, sp
        r.fp = rec.value;
        return rec;
    }
};

} // namespace

TEST_CASE("checker fast path: a store to a word the walk read, between two checks") {
    FastPathRun t;
    const GuestAddr rec = t.enter_q();
    t.step(kFuncB + 8, a64::nop());
    t.step(kFuncB + 8, a64::nop()); // The fast path.
    // str x10, [x9, #8]: Q's saved x30 now names C, not P+0xc.
    t.r.x9 = rec.value;
    t.r.x10 = kFuncC.value;
    t.step(kFuncB + 0xc, InsnWord(0xf900052au));
    t.s.write(rec + 8, kFuncC.value);
    const size_t before = t.inc.findings().size();
    t.step(kFuncB + 8, a64::nop());
    REQUIRE(t.inc.findings().size() == before + 1);
    CHECK(t.inc.findings().back().message == t.full.findings().back().message);
}

TEST_CASE("checker fast path: another shadow stack under the same registers") {
    FastPathRun t;
    t.enter_q();
    t.step(kFuncB + 8, a64::nop());
    t.step(kFuncB + 8, a64::nop()); // The fast path.
    // A call in Q that the registers do not show (the test keeps x30): the truth has one more
    // frame, the walk the same answer, which is now wrong.
    t.step(kFuncB + 0x10, a64::bl(kFuncB + 0x10, kFuncB + 8).value());
    t.step(kFuncB + 8, a64::nop());
    CHECK(t.inc.stats("fp-naive").unsound == t.full.stats("fp-naive").unsound);
    CHECK(t.inc.stats("fp-naive").unsound > 0);
}

TEST_CASE("checker fast path: the walk served another function's pc in between") {
    FastPathRun t;
    t.enter_q();
    t.step(kFuncB + 8, a64::nop());
    t.step(kFuncB + 8, a64::nop());    // The fast path.
    t.step(kFuncA + 0x20, a64::nop()); // P's pc, the same registers: the same walk, P's row.
    t.step(kFuncB + 8, a64::nop());
    t.step(kFuncA + 0x20, a64::nop());
    t.step(kFuncB + 8, a64::nop());
}

TEST_CASE("checker fast path: a walk that read memory outside the task stack") {
    FastPathRun t;
    t.enter_q();
    // Q's x29 points at a record on another stack (not the task's): the walk read it there.
    const GuestAddr outside = kIrqTop - 64;
    t.s.record(outside, t.s.final_record(), kFuncA + 12);
    t.r.fp = outside.value;
    t.step(kFuncB + 8, a64::nop());
    t.step(kFuncB + 8, a64::nop());
    // Rewritten where no store to the task stack shows it.
    t.s.record(outside, t.s.final_record(), kFuncC);
    t.step(kFuncB + 8, a64::nop());
    CHECK(t.inc.stats("fp-naive").unsound == t.full.stats("fp-naive").unsound);
}
