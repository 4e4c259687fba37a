// The cycle model against numbers worked out by hand from LLVM 19's scheduling tables, and the
// InOrderPipeline rule documented in emu/cycle_model.h.
#include "emu/cycle_model.h"

#include "support/asm_words.h"

#include <doctest/doctest.h>

using namespace klpemu;

namespace {

uint64_t bit(unsigned r) { return uint64_t(1) << r; }

CycleModel model(std::string_view core) {
    auto m = CycleModel::create(core);
    REQUIRE_MESSAGE(m.ok(), m.error().message);
    return std::move(m).value();
}

} // namespace

TEST_CASE("cycle model: load-use chain on cortex-a53, computed by hand") {
    // AArch64SchedA53.td: WriteLD (ldr x, [x]) latency 4 on A53UnitLdSt; WriteI (add imm)
    // latency 3 on A53UnitALU; WriteIM64 (mul = madd xzr) latency 4 on A53UnitMAC; nop (hint)
    // latency 1. Every unit here is held for one cycle (ReleaseAtCycle 1), so issue_cycles = 1.
    //
    //   insn              issue  uses ready at   next_issue  result ready   charged
    //   ldr x1, [x0]        0    x0: 0               1       x1 @ 0+4=4       1
    //   add x2, x1, #1      4    x1: 4               5       x2 @ 4+3=7       4
    //   mul x3, x2, x2      7    x2: 7               8       x3 @ 7+4=11      3
    //   nop                 8    -                   9       -                1
    //                                                                 total = 9
    const auto words = test::assemble_words("ldr x1, [x0]\nadd x2, x1, #1\nmul x3, x2, x2\nnop\n");
    const CycleModel a53 = model("cortex-a53");
    CHECK(a53.core() == "cortex-a53");
    const InsnCost ldr = a53.cost(words[0]);
    const InsnCost add = a53.cost(words[1]);
    const InsnCost mul = a53.cost(words[2]);
    const InsnCost nop = a53.cost(words[3]);
    CHECK(ldr.latency == 4);
    CHECK(ldr.is_load);
    CHECK(ldr.defs_mask == bit(1));
    CHECK(ldr.uses_mask == bit(0));
    CHECK(add.latency == 3);
    CHECK_FALSE(add.is_load);
    CHECK(add.defs_mask == bit(2));
    CHECK(add.uses_mask == bit(1));
    CHECK(mul.latency == 4);
    CHECK(mul.uses_mask == bit(2));
    CHECK(nop.latency == 1);
    CHECK_FALSE(nop.is_load); // LLVM's HINT is mayLoad; the system class is excluded.
    CHECK(nop.defs_mask == 0);
    for (const auto& c : {ldr, add, mul, nop}) {
        CHECK(c.issue_cycles == 1);
    }
    InOrderPipeline pipe;
    CHECK(pipe.account(ldr) == 1);
    CHECK(pipe.account(add) == 4);
    CHECK(pipe.account(mul) == 3);
    CHECK(pipe.account(nop) == 1);
    CHECK(pipe.total_cycles() == 9);
}

TEST_CASE("cycle model: frame push writes sp early, so mov x29, sp does not stall") {
    // stp x29, x30, [sp, #-16]! : sp is written by WriteAdr (latency 1 on A53), the pair only
    // goes to memory. mov x29, sp (add x29, sp, #0) reads sp at cycle 1: no stall. Total 2.
    const auto words = test::assemble_words("stp x29, x30, [sp, #-16]!\nmov x29, sp\n");
    const CycleModel a53 = model("cortex-a53");
    const InsnCost stp = a53.cost(words[0]);
    CHECK(stp.defs_mask == bit(kSpBit));
    CHECK(stp.fast_defs_mask == bit(kSpBit));
    CHECK(stp.uses_mask == (bit(29) | bit(30) | bit(kSpBit)));
    CHECK_FALSE(stp.is_load);
    InOrderPipeline pipe;
    pipe.account(stp);
    pipe.account(a53.cost(words[1]));
    CHECK(pipe.total_cycles() == 2);
}

TEST_CASE("cycle model: implicit registers, pairs and unknown words") {
    const auto words = test::assemble_words("bl .+8\nret\ncasp x0, x1, x2, x3, [x4]\n");
    const CycleModel a53 = model("cortex-a53");
    CHECK(a53.cost(words[0]).defs_mask == bit(30));
    CHECK(a53.cost(words[1]).uses_mask == bit(30));
    const InsnCost casp = a53.cost(words[2]);
    CHECK(casp.defs_mask == (bit(0) | bit(1)));
    CHECK(casp.uses_mask == (bit(0) | bit(1) | bit(2) | bit(3) | bit(4)));
    CHECK(casp.is_load);
    CHECK(a53.cost(InsnWord(0xffffffff)) == kUnknownInsnCost);
}

TEST_CASE("cycle model: cores differ and are deterministic") {
    const auto words = test::assemble_words("add x2, x1, #1\nudiv x0, x1, x2\n");
    const CycleModel a53 = model("cortex-a53");
    const CycleModel n1 = model("neoverse-n1");
    const CycleModel a72 = model("cortex-a72");
    // AArch64SchedNeoverseN1.td: simple ALU ops have latency 1; A53 says 3.
    CHECK(a53.cost(words[0]).latency == 3);
    CHECK(n1.cost(words[0]).latency == 1);
    CHECK(a72.cost(words[0]).latency == 1);
    CHECK(n1.cost(words[1]).latency != a53.cost(words[1]).latency);
    CHECK(model("cortex-a53").cost(words[1]) == a53.cost(words[1]));
}

TEST_CASE("cycle model: unknown core names list the known ones") {
    auto m = CycleModel::create("cortex-z99");
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().message.find("unknown cycle-model core 'cortex-z99'") != std::string::npos);
    for (std::string_view core : CycleModel::known_cores()) {
        CAPTURE(core);
        CHECK(m.error().message.find(core) != std::string::npos);
        CHECK(CycleModel::create(core).ok());
    }
    CHECK(CycleModel::create().value().core() == "cortex-a53");
}
