// The checker's copy of sp/x29/x30 (unwinder/frame_effect.h) against the CPU, on real code that
// uses every form the checker applies itself and some it must read back: with full_walk the
// MachineChecker compares the copy with Unicorn's registers at every boundary and aborts on a
// difference, so these runs fail (crash) on any wrong effect; one task alone, and two tasks
// preempted by timer IRQs (host writes in the middle of the sequence).
#include "machine_test_util.h"

#include "unwinder/machine_checker.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::unwinder;
using klpemu::test::make_machine;
using klpemu::test::sym;

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

struct Run {
    std::string summary;
    uint64_t frame_reads = 0;
};

Run run_forms(bool full_walk, uint64_t calls, uint64_t irq_period) {
    emu::MachineConfig mcfg;
    mcfg.irq_timer_period = irq_period;
    auto m = make_machine(mcfg);
    auto obj = m->load_assembly(kForms, "forms.S");
    REQUIRE_MESSAGE(obj.ok(), (obj.ok() ? "" : obj.error().message));
    CheckerConfig cfg;
    cfg.full_walk = full_walk;
    MachineChecker mc(*m, cfg, nullptr);
    if (irq_period == 0) {
        auto r = m->call(sym(*m, "drive"), {calls});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    } else {
        for (const char* name : {"a", "b"}) {
            REQUIRE(m->create_task({name, emu::TaskKind::Kthread, sym(*m, "drive"), {calls}, 0, 1})
                        .ok());
        }
        auto r = m->run(5'000'000);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        REQUIRE(r->reason == emu::StopReason::AllTasksFinished);
        REQUIRE(m->exceptions_taken(0) > 10);
    }
    return Run{mc.checker().summary(), mc.frame_reg_reads()};
}

} // namespace

TEST_CASE("frame effects: the copy equals the CPU at every boundary of every modelled form") {
    const Run checked = run_forms(true, 50, 0); // Aborts at the first difference.
    const Run incremental = run_forms(false, 50, 0);
    CHECK(incremental.summary == checked.summary);
    // 100 calls of 23 instructions, 20 of which change sp/x29/x30: the copy is read back only
    // after the two forms not modelled (and once at the start), not after each of them.
    CHECK(incremental.frame_reads > 100);
    CHECK(incremental.frame_reads < 300);
}

TEST_CASE("frame effects: timer IRQs and task switches in the middle of the forms") {
    const Run checked = run_forms(true, 300, 97);
    const Run incremental = run_forms(false, 300, 97);
    CHECK(incremental.summary == checked.summary);
}
