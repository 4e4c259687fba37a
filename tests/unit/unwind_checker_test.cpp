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
