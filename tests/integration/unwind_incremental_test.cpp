// The incremental checker must give exactly what re-walking every boundary gives: memoised walks
// are reused across calls at the same (pc, sp, fp, lr), so a store that rewrites a saved frame
// record through an ordinary register (not sp or x29) between two such boundaries must still be
// noticed. A cache keyed only on registers, or one that ignored stores through other base
// registers, would miss the unsound trace below.
#include "checked_run.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace klpemu;
using namespace klpemu::unwinder;
using Run = klpemu::test::CheckedRun;

namespace {

// drive(n) calls victim(n-1), ..., victim(0). victim(0) overwrites drive's saved x30 with its
// own address through x9 (a pointer to drive's frame record), runs one instruction, and puts
// the right value back; the other calls store the unchanged value. The boundary at `victim_p`
// has the same pc, sp, x29 and x30 in every call.
constexpr std::string_view kVictim = R"(
        .text
        .globl drive, victim, victim_p
        .type drive, %function
drive:
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        mov     x19, x0
1:      sub     x0, x19, #1
        bl      victim
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
        .size drive, . - drive

        .type victim, %function
victim:
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        ldr     x9, [x29]
        ldr     x11, [x9, #8]
        cbnz    x0, 2f
        adr     x10, victim
        str     x10, [x9, #8]
2:
victim_p:
        nop
        str     x11, [x9, #8]
        ldp     x29, x30, [sp], #16
        ret
        .size victim, . - victim
)";

// The same corruption 21 frames further out: drive(n) calls dive(n-1, drive's record, 20),
// which nests 20 frames and calls victim, which corrupts drive's saved x30 through x9 in the last
// call. The walk at victim_p takes the rest of its chain from the frame-chain memo (recorded at
// victim's earlier boundaries), a rest longer than the words a whole walk copies: the whole walk
// kept at victim_p must not be reused on the strength of the words it did copy.
constexpr std::string_view kDeepVictim = R"(
        .text
        .globl drive, dive, victim, victim_p
        .type drive, %function
drive:
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        mov     x19, x0
1:      sub     x0, x19, #1
        mov     x1, x29
        mov     x2, #20
        bl      dive
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
        .size drive, . - drive

        .type dive, %function
dive:
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        cbz     x2, 2f
        sub     x2, x2, #1
        bl      dive
        b       3f
2:      bl      victim
3:      ldp     x29, x30, [sp], #16
        ret
        .size dive, . - dive

        .type victim, %function
victim:
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        mov     x9, x1
        ldr     x11, [x9, #8]
        cbnz    x0, 4f
        adr     x10, victim
        str     x10, [x9, #8]
4:
victim_p:
        nop
        str     x11, [x9, #8]
        ldp     x29, x30, [sp], #16
        ret
        .size victim, . - victim
)";

Run run_victim(bool full_walk, uint64_t calls, uint64_t irq_period = 0,
               std::string_view source = kVictim) {
    return klpemu::test::run_checked(source, full_walk, calls, irq_period);
}

} // namespace

TEST_CASE("incremental checker: a frame record corrupted through x9 is noticed at a memoised "
          "boundary") {
    const Run fresh = run_victim(true, 6);
    const Run reused = run_victim(false, 6);
    INFO(reused.summary);
    CHECK(reused.summary == fresh.summary);
    CHECK(reused.findings == fresh.findings);
    CHECK(reused.walks < fresh.walks / 2); // The memo really was used.

    // fp-naive follows the intact chain and reports victim as drive's return address: reliable
    // and wrong, only in the corrupting (last) call; the earlier calls were right at the same
    // boundary, so only a walk that saw the store finds it.
    const auto at_p =
        std::find_if(reused.findings.begin(), reused.findings.end(), [](const std::string& f) {
            return f.rfind("victim_p: unwinder: fp-naive:", 0) == 0;
        });
    REQUIRE(at_p != reused.findings.end());
    CHECK(at_p->find("trace: victim_p <- drive+0x18 <- victim;") != std::string::npos);
}

TEST_CASE("incremental checker: timer IRQs and task switches give the same statistics") {
    const Run fresh = run_victim(true, 200, 300);
    const Run reused = run_victim(false, 200, 300);
    INFO(reused.summary);
    CHECK(reused.summary == fresh.summary);
    CHECK(reused.findings == fresh.findings);
    CHECK(reused.walks < fresh.walks);
}

TEST_CASE("incremental checker: a record corrupted 21 frames out is noticed where the frame-chain "
          "memo gave the rest of the walk") {
    const Run fresh = run_victim(true, 4, 0, kDeepVictim);
    const Run reused = run_victim(false, 4, 0, kDeepVictim);
    INFO(reused.summary);
    CHECK(reused.summary == fresh.summary);
    CHECK(reused.findings == fresh.findings);
    CHECK(reused.chain_hits > 0);
    const auto at_p =
        std::find_if(reused.findings.begin(), reused.findings.end(), [](const std::string& f) {
            return f.rfind("victim_p: unwinder: fp-naive:", 0) == 0;
        });
    CHECK(at_p != reused.findings.end());
}
