// Classification of A64 words for the SP alignment check (emu/sp_alignment.h).
#include "emu/sp_alignment.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::emu;

TEST_CASE("sp alignment: accesses through SP and SP writes that keep alignment") {
    // Memory accesses through SP.
    CHECK(sp_alignment_flags(InsnWord(0xf90003e0), false) == kSpMemAccess); // str x0, [sp]
    CHECK(sp_alignment_flags(InsnWord(0xa9bf7bfd), true) == kSpMemAccess);  // stp x29, x30, [sp, #-16]!
    CHECK(sp_alignment_flags(InsnWord(0xa8c17bfd), true) == kSpMemAccess);  // ldp x29, x30, [sp], #16
    CHECK(sp_alignment_flags(InsnWord(0xf9400020), false) == 0);            // ldr x0, [x1]
    CHECK(sp_alignment_flags(InsnWord(0x58000000), false) == 0);            // ldr x0, <literal> (Rn bits are imm19)
    // SP writes by multiples of 16 keep an aligned SP aligned.
    CHECK(sp_alignment_flags(InsnWord(0xd10243ff), true) == 0);             // sub sp, sp, #144
    CHECK(sp_alignment_flags(InsnWord(0x910243ff), true) == 0);             // add sp, sp, #144
    // Anything else that writes SP may misalign it.
    CHECK(sp_alignment_flags(InsnWord(0xd10023ff), true) == kSpMayMisalign); // sub sp, sp, #8
    CHECK(sp_alignment_flags(InsnWord(0x9100013f), true) == kSpMayMisalign); // mov sp, x9
    CHECK(sp_alignment_flags(InsnWord(0xf81f8fe0), true) ==
          (kSpMemAccess | kSpMayMisalign)); // str x0, [sp, #-8]!
    CHECK(sp_alignment_flags(InsnWord(0xa9bf27fd), true) == kSpMemAccess); // stp x29, x9, [sp, #-16]!
}
