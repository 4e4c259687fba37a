// The store-below-sp check decides stores through sp from their encoding alone (below iff the
// offset is below the writeback; no register read); every form that can land below the sp the
// instruction leaves must be found, whatever its base register, size or register file, and
// nothing else.
#include "emu/store_below_sp_check.h"
#include "machine_test_util.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace klpemu;
using namespace klpemu::test;

TEST_CASE("machine: store-below-sp finds every store below sp and nothing else") {
    emu::MachineConfig config;
    config.observe_memory_writes = true;
    auto m = make_machine(config);
    emu::StoreBelowSpCheck check(*m);
    load_asm(*m, R"(
        .text
        .globl stores
stores: stp     x29, x30, [sp, #-48]!   // Pre-index: sp moves to the address.
        mov     x29, sp
        stp     x0, x1, [sp, #16]       // Non-negative offsets through sp.
        str     x2, [sp, #32]
        strb    w2, [sp, #33]
        stur    x2, [sp, #40]
        ldr     x10, [sp]
        str     x10, [sp], #0           // Post-index: at sp itself.
        stur    x3, [sp, #-8]           // +0x20  below: STUR, negative offset
        stp     x4, x5, [sp, #-16]      // +0x24  below: STP, negative offset
        sturb   w6, [sp, #-1]           // +0x28  below: a byte
        stur    q0, [sp, #-32]          // +0x2c  below: SIMD
        add     x9, sp, #0
        str     x7, [x9, #-24]          // +0x34  below: another base register
        str     x7, [x9, #24]           //        another base, above: fine
        stnp    x4, x5, [sp, #-48]      // +0x3c  below: no-allocate pair
        stp     q0, q1, [sp, #-64]      // +0x40  below: SIMD pair
        sub     sp, sp, #16
        str     x11, [sp], #16          // +0x48  below: post-index pops past its own store
        str     q2, [sp, #-16]!         //        pre-index, 128-bit SIMD: at the new sp
        add     sp, sp, #16
        ldp     x29, x30, [sp], #48
        ret
)");
    auto r = m->call(sym(*m, "stores"), {1, 2, 3});
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    std::vector<std::string> where;
    for (const Finding& f : m->findings()) {
        CHECK(f.kind == "store-below-sp");
        where.push_back(f.where);
    }
    std::sort(where.begin(), where.end());
    CHECK(where == std::vector<std::string>{"stores+0x20", "stores+0x24", "stores+0x28",
                                            "stores+0x2c", "stores+0x34", "stores+0x3c",
                                            "stores+0x40", "stores+0x48"});
}
