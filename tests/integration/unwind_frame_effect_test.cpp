// The checker's copy of sp/x29/x30 (unwinder/frame_effect.h) against the CPU, on real code that
// uses every form the checker applies itself and some it must read back: with full_walk the
// MachineChecker compares the copy with Unicorn's registers at every boundary and aborts on a
// difference, so these runs fail (crash) on any wrong effect; one task alone, and two tasks
// preempted by timer IRQs (host writes in the middle of the sequence).
#include "checked_run.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::unwinder;
using klpemu::test::CheckedRun;
using klpemu::test::run_checked;

namespace {

// forms: every modelled effect once (comments: what the checker applies), with the frame
// record chain intact at its end. drive(n) calls it n times through BL and n times through BLR.
constexpr std::string_view kForms = R"(
        .text
        .globl drive, forms
        .type drive, %function
drive:
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        mov     x19, x0
1:      bl      forms
        adr     x9, forms
        blr     x9
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
        .size drive, . - drive

        .type forms, %function
forms:
        str     x30, [sp, #-16]!          // SpAdd -16, a store of x30
        stp     x29, x30, [sp, #-32]!     // SpAdd -32: the record at E-48
        mov     x29, sp                   // FpFromSp 0
        sub     sp, sp, #64               // SpAdd -64
        ldp     x29, x30, [sp, #64]       // LoadFpLr at sp+64, no writeback
        add     x29, sp, #64              // FpFromSp +64
        ldp     x29, x30, [sp, #64]!      // LoadFpLr pre-index: sp += 64
        sub     sp, sp, #64               // SpAdd -64
        add     x29, sp, #64              // FpFromSp +64
        add     sp, sp, #1, lsl #12       // SpAdd +4096
        sub     sp, sp, #1, lsl #12       // SpAdd -4096
        stp     q0, q1, [sp, #-32]!       // SpAdd -32, SIMD pair
        ldp     q0, q1, [sp], #32         // SpAdd +32, SIMD pair load
        stp     x19, x20, [sp, #-16]!     // SpAdd -16
        ldp     x19, x20, [sp], #16       // SpAdd +16
        str     x19, [sp, #-16]!          // SpAdd -16
        ldr     x19, [sp], #16            // SpAdd +16
        sub     sp, x29, #16              // SpFromFp -16
        mov     sp, x29                   // SpFromFp 0
        ldp     x29, x30, [sp], #32       // LoadFpLr post-index
        mov     x29, x29                  // read back (ORR): not modelled
        ldr     x30, [sp], #16            // read back: loads x30
        ret
        .size forms, . - forms
)";

} // namespace

TEST_CASE("frame effects: the copy equals the CPU at every boundary of every modelled form") {
    const CheckedRun checked = run_checked(kForms, true, 50); // Aborts at the first difference.
    const CheckedRun incremental = run_checked(kForms, false, 50);
    CHECK(incremental.summary == checked.summary);
    // 100 calls of 23 instructions, 20 of which change sp/x29/x30: the copy is read back only
    // after the two forms not modelled (and once at the start), not after each of them.
    CHECK(incremental.frame_reg_reads > 100);
    CHECK(incremental.frame_reg_reads < 300);
}

TEST_CASE("frame effects: timer IRQs and task switches in the middle of the forms") {
    const CheckedRun checked = run_checked(kForms, true, 300, 97);
    const CheckedRun incremental = run_checked(kForms, false, 300, 97);
    CHECK(incremental.summary == checked.summary);
}
