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
    uint64_t fp = 0, lr = 0, sp = 0;
    uint64_t x(unsigned n) const override { return n == 29 ? fp : n == 30 ? lr : n == 31 ? sp : 0; }
};

SymbolTable symbols() {
    LoadedObject o;
    o.name = "k.o";
    o.symbols.push_back(Symbol{"P", kFuncA, 0x100, SymbolKind::Function, true, "k.o"});
    o.symbols.push_back(Symbol{"Q", kFuncB, 0x100, SymbolKind::Function, true, "k.o"});
    o.sections.push_back(PlacedSection{
        ".text", SectionKind::Text, GuestRange{kFuncA, kFuncB + 0x100}, 4, true, false, {}});
    SymbolTable t;
    t.add_object(o);
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
    LoadedObject m;
    m.name = "m.o";
    m.symbols.push_back(Symbol{"P", kFuncA, 0x100, SymbolKind::Function, true, "m.o"});
    m.symbols.push_back(Symbol{"R", kFuncB, 0x100, SymbolKind::Function, true, "m.o"});
    m.sections.push_back(PlacedSection{
        ".text", SectionKind::Text, GuestRange{kFuncA, kFuncB + 0x100}, 4, true, false, {}});
    syms.add_object(m);
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
