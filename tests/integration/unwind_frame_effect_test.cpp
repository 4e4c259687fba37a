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

// A host call always sets the pc (and usually x0); only a write that may change sp, x29 or x30
// makes the copy be read back (Machine::frame_register_writes). drive(n): each round a host
// call sets x0 alone, then one sets x29 below sp, then a boundary the checker sees with it.
TEST_CASE("frame effects: a host call's write of x29 is read back, its x0 and pc are not") {
    constexpr uint16_t kSetX0 = 0x7e0, kSetFp = 0x7e1;
    constexpr std::string_view kSource = R"(
        .text
        .globl drive
        .type drive, %function
drive:
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        mov     x19, x0
1:      hvc     #0x7e0                    // x0 = 7
        sub     x1, sp, #16
        hvc     #0x7e1                    // x29 = x1, through the host
        nop                               // checked with the host's x29
        mov     x29, sp
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
        .size drive, . - drive
)";
    constexpr uint64_t kRounds = 200;
    for (bool full_walk : {true, false}) { // full_walk aborts if the copy misses the write.
        CAPTURE(full_walk);
        auto m = test::make_machine();
        m->register_host_call(kSetX0, [](emu::HostCallContext& c) { c.set_reg(0, 7); });
        m->register_host_call(kSetFp, [](emu::HostCallContext& c) { c.set_reg(29, c.arg(1)); });
        test::load_asm(*m, kSource);
        CheckerConfig cfg;
        cfg.full_walk = full_walk;
        MachineChecker mc(*m, cfg, nullptr);
        auto r = m->call(test::sym(*m, "drive"), {kRounds});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        if (!full_walk) {
            // One read back per round for the x29 write; the x0 host call adds none.
            CHECK(mc.frame_reg_reads() >= kRounds);
            CHECK(mc.frame_reg_reads() < kRounds + kRounds / 2);
        }
    }
}
