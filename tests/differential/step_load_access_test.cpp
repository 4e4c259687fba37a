// The read-watchpoint decoder (scenarios/step_load_access.h) against LLVM MC's encodings: every
// addressing form of the A64 loads gives the bytes the Arm ARM says it reads, and stores,
// prefetches and non-memory instructions read nothing.
#include "scenarios/step_load_access.h"

#include "support/asm_words.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::scenario;

namespace {

// x(n) = 0x1000 * (n + 1); sp (31) = 0x80000.
uint64_t reg(unsigned n) {
    return n == 31 ? 0x80000 : 0x1000 * (uint64_t(n) + 1);
}

std::optional<LoadAccess> decode(std::string_view insn, uint64_t pc = 0x4000) {
    const auto words = test::assemble_words(std::string(".text\n") + std::string(insn) + "\n");
    REQUIRE(words.size() == 1);
    return load_access(GuestAddr(pc), words[0], reg);
}

void check(std::string_view insn, uint64_t addr, uint64_t size) {
    CAPTURE(insn);
    const auto a = decode(insn);
    REQUIRE(a.has_value());
    CHECK(a->addr.value == addr);
    CHECK(a->size == size);
}

} // namespace

TEST_CASE("load access: every addressing form of the loads") {
    check("ldr x0, [x1, #16]", 0x2000 + 16, 8);
    check("ldr w0, [sp, #8]", 0x80000 + 8, 4);
    check("ldrb w0, [x2, #3]", 0x3000 + 3, 1);
    check("ldrsw x0, [x1, #4]", 0x2000 + 4, 4);
    check("ldr q0, [x1, #32]", 0x2000 + 32, 16);
    check("ldur x0, [x1, #-8]", 0x2000 - 8, 8);
    check("ldr x0, [x1, #-16]!", 0x2000 - 16, 8);
    check("ldr x0, [x1], #16", 0x2000, 8);
    check("ldr x0, [x1, x2, lsl #3]", 0x2000 + 0x3000 * 8, 8);
    check("ldr w0, [x1, w2, uxtw]", 0x2000 + 0x3000, 4);
    check("ldp x29, x30, [sp], #16", 0x80000, 16);
    check("ldp x19, x20, [sp, #16]", 0x80000 + 16, 16);
    check("ldp w0, w3, [x2, #-8]!", 0x3000 - 8, 8);
    check("ldp q0, q1, [x1, #32]", 0x2000 + 32, 32);
    check("ldxr x0, [x1]", 0x2000, 8);
    check("ldar w0, [x1]", 0x2000, 4);
    check("ldxp x0, x1, [x2]", 0x3000, 16);
    check("ldr x0, . + 16", 0x4000 + 16, 8); // LDR (literal): pc-relative.
}

TEST_CASE("load access: stores, prefetches and other instructions read nothing") {
    for (const char* insn :
         {"str x0, [x1, #16]", "stp x29, x30, [sp, #-16]!", "stur x0, [x1, #-8]", "str q0, [x1]",
          "prfm pldl1keep, [x1]", "stxr w3, x0, [x1]", "add x0, x1, #1", "bl 0x4000", "nop"}) {
        CAPTURE(insn);
        CHECK_FALSE(decode(insn).has_value());
    }
}
