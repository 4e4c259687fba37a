// FastPipeline and McaPipeline on straight-line streams: the rules of emu/fast_pipeline.h worked
// by hand, and both models against each other (McaPipeline is llvm-mca's library, so it stands
// for llvm-mca here; bench/cycle_bench.cpp compares with the llvm-mca-19 binary itself).
#include "emu/cycle_model.h"
#include "emu/fast_pipeline.h"
#include "emu/mca_pipeline.h"

#include "support/asm_words.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace klpemu;

namespace {

CycleModel model(std::string_view core) {
    auto m = CycleModel::create(core);
    REQUIRE_MESSAGE(m.ok(), m.error().message);
    return std::move(m).value();
}

// Steady-state cycles per iteration of `body` repeated: (cycles(2n) - cycles(n)) / n.
double fast_per_iteration(const CycleModel& m, const std::vector<InsnWord>& body, int n = 200) {
    FastPipeline p(m.tables());
    uint64_t at_n = 0;
    for (int i = 0; i < 2 * n; ++i) {
        if (i == n) {
            at_n = p.total_cycles();
        }
        for (InsnWord w : body) {
            p.account(m.cost(w));
        }
    }
    return double(p.total_cycles() - at_n) / n;
}

double mca_per_iteration(std::string_view core, const std::vector<InsnWord>& body, int n = 200) {
    auto made = McaPipeline::create(core);
    REQUIRE(made.ok());
    McaPipeline& p = *made;
    uint64_t at_n = 0;
    for (int i = 0; i < 2 * n; ++i) {
        if (i == n) {
            at_n = p.total_cycles();
        }
        for (InsnWord w : body) {
            p.account(w);
        }
    }
    return double(p.total_cycles() - at_n) / n;
}

} // namespace

TEST_CASE("fast pipeline: cortex-a53 dual-issues independent ALU ops") {
    // IssueWidth 2, two A53UnitALU units: four independent adds take two cycles.
    const auto body =
        test::assemble_words("add x1, x1, #1\nadd x2, x2, #1\nadd x3, x3, #1\nadd x4, x4, #1\n");
    CHECK(fast_per_iteration(model("cortex-a53"), body) == doctest::Approx(2.0));
}

TEST_CASE("fast pipeline: cortex-a53 forwards ALU results (ReadAdvance)") {
    // WriteI latency 3, ReadI advance 2: a dependent add issues one cycle after its producer.
    const auto body = test::assemble_words("add x1, x1, #1\n");
    CHECK(fast_per_iteration(model("cortex-a53"), body) == doctest::Approx(1.0));
}

TEST_CASE("fast pipeline: a divider holds its unit, not the whole core (neoverse-n1)") {
    // One udiv per iteration on N1's single divider; the adds issue on the other ALUs meanwhile,
    // so an iteration costs the divider's occupancy, not the divide plus the adds.
    const CycleModel n1 = model("neoverse-n1");
    const auto alone = test::assemble_words("udiv x1, x6, x2\n");
    const auto mixed =
        test::assemble_words("udiv x1, x6, x2\nadd x3, x3, #1\nadd x4, x4, #1\nadd x5, x5, #1\n");
    CHECK(fast_per_iteration(n1, mixed) == doctest::Approx(fast_per_iteration(n1, alone)));
    CHECK(fast_per_iteration(n1, alone) == doctest::Approx(5.0)); // N1UnitM held 5 cycles.
}

TEST_CASE("fast pipeline: an out-of-order core overlaps independent loads") {
    // N1 has two load pipes and a 4-cycle load latency: four independent loads per iteration
    // take two cycles, where an in-order reading would take at least four.
    const auto body = test::assemble_words(
        "ldr x1, [sp, #32]\nldr x2, [sp, #40]\nldr x3, [sp, #48]\nldr x4, [sp, #56]\n");
    CHECK(fast_per_iteration(model("neoverse-n1"), body) == doctest::Approx(2.0));
}

TEST_CASE("fast pipeline: charges sum to total cycles; serialize drains") {
    const CycleModel a72 = model("cortex-a72");
    const auto body = test::assemble_words("udiv x1, x1, x2\nadd x3, x1, #1\n");
    FastPipeline p(a72.tables());
    uint64_t sum = 0;
    for (int i = 0; i < 10; ++i) {
        for (InsnWord w : body) {
            sum += p.account(a72.cost(w));
        }
    }
    CHECK(sum == p.total_cycles());
    const uint64_t drained = p.serialize(7);
    CHECK(drained >= 7);
    CHECK(p.total_cycles() == sum + drained);
    // After a drain nothing is in flight: one add costs its own issue, not the divider's.
    const uint64_t next = p.account(a72.cost(body[1]));
    CHECK(next <= 2);
}

TEST_CASE("fast pipeline: a mispredict delays the next instruction by the penalty") {
    const CycleModel n1 = model("neoverse-n1");
    const auto add = test::assemble_words("add x1, x1, #1\n");
    FastPipeline p(n1.tables());
    p.account(n1.cost(add[0]));
    const uint64_t before = p.total_cycles();
    p.mispredict(n1.tables().mispredict_penalty);
    p.account(n1.cost(add[0]));
    CHECK(p.total_cycles() - before >= n1.tables().mispredict_penalty);
}

TEST_CASE("pipeline models: fast is within 15 % of llvm-mca's library on shared kernels") {
    const char* kernels[] = {
        "add x1, x1, #1\nadd x2, x2, #1\nadd x3, x3, #1\nadd x4, x4, #1\n",
        "add x1, x1, #1\nadd x1, x1, #2\nadd x1, x1, #3\n",
        "mul x1, x1, x2\nmul x1, x1, x2\n",
        "udiv x1, x1, x2\nadd x3, x3, #1\nadd x4, x4, #1\n",
        "ldr x1, [x1]\nldr x1, [x1]\n",
        "ldr x1, [sp, #32]\nldr x2, [sp, #40]\nldr x3, [sp, #48]\n",
        "str x1, [sp, #32]\nstp x3, x4, [sp, #48]\nadd x1, x1, #1\n",
        "fadd d0, d0, d1\nfmul d0, d0, d1\n",
        "add v2.4s, v2.4s, v1.4s\nmul v4.4s, v4.4s, v1.4s\n",
        // Contested unit: the ldp must win it over the older mov (llvm-mca's rank).
        "stp x29, x30, [sp, #-16]!\nmov x29, sp\nldp x29, x30, [sp], #16\n",
        "udiv x1, x1, x2\nstr x1, [sp, #32]\nldr x3, [sp, #40]\nstr x3, [sp, #48]\n",
    };
    for (std::string_view core : {"cortex-a53", "cortex-a72", "neoverse-n1"}) {
        const CycleModel m = model(core);
        for (const char* k : kernels) {
            CAPTURE(core);
            const std::string_view kernel = k;
            CAPTURE(kernel);
            const auto body = test::assemble_words(k);
            const double fast = fast_per_iteration(m, body);
            const double mca = mca_per_iteration(core, body);
            CAPTURE(fast);
            CAPTURE(mca);
            CHECK(std::abs(fast / mca - 1.0) <= 0.15);
        }
    }
}

TEST_CASE("fast pipeline: an out-of-order core picks ready instructions by llvm-mca's rank") {
    // cortex-a72 (LLVM's Cortex-A57 tables): after the stp, the mov and the ldp compete for
    // the one integer unit the stp leaves; llvm-mca issues the ldp first (the next stp waits on
    // it) and the loop takes 5 cycles, where program order would take 6.
    const auto body =
        test::assemble_words("stp x29, x30, [sp, #-16]!\nmov x29, sp\nldp x29, x30, [sp], #16\n");
    CHECK(fast_per_iteration(model("cortex-a72"), body) == doctest::Approx(5.0));
    CHECK(mca_per_iteration("cortex-a72", body) == doctest::Approx(5.0));
}

TEST_CASE("mca pipeline: llvm-mca-19's steady state for known kernels") {
    // Figures printed by `llvm-mca-19 -mtriple=aarch64-linux-gnu -mcpu=<core>` for these
    // blocks: the library in process must give the same steady state.
    const auto indep =
        test::assemble_words("add x1, x1, #1\nadd x2, x2, #1\nadd x3, x3, #1\nadd x4, x4, #1\n");
    CHECK(mca_per_iteration("cortex-a53", indep) == doctest::Approx(2.0));
    CHECK(mca_per_iteration("neoverse-n1", indep) == doctest::Approx(4.0 / 3.0).epsilon(0.01));
    const auto chain = test::assemble_words("add x1, x1, #1\n");
    CHECK(mca_per_iteration("cortex-a53", chain) == doctest::Approx(1.0));
    CHECK_FALSE(McaPipeline::create("cortex-z99").ok());
}

TEST_CASE("mca pipeline: a word whose MCInst has fewer operands than its descriptor") {
    // tsb csync (0xd503225f) decodes to fewer operands than LLVM 19's descriptor lists; handed to
    // MCA's InstrBuilder it aborts the process in an unbounded allocation. The pipeline feeds it
    // as a NOP instead, on every core.
    constexpr InsnWord kTsbCsync{0xd503225f};
    constexpr InsnWord kNop{0xd503201f};
    for (std::string_view core : {"cortex-a53", "cortex-a72", "neoverse-n1"}) {
        CAPTURE(core);
        auto tsb = McaPipeline::create(core);
        auto nop = McaPipeline::create(core);
        REQUIRE(tsb.ok());
        REQUIRE(nop.ok());
        for (int i = 0; i < 50; ++i) {
            CHECK(tsb->account(kTsbCsync) == nop->account(kNop));
        }
        CHECK(tsb->total_cycles() == nop->total_cycles());
        CHECK(tsb->total_cycles() > 0);
    }
}
