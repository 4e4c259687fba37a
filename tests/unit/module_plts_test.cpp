// module-plts.c's pure parts: the PLT entry encoding, count_plts's rules (other-section
// targets only, (type, symbol, addend 0) counted once per RELA section, init text apart) and
// PltSection's dedup and overflow.
#include "emu/assembler.h"
#include "emu/elf_object.h"
#include "patcher/module_plts.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace klpemu;
using namespace klpemu::patcher;

TEST_CASE("PLT entry: adrp x16 / add x16 / br x16 with the page delta from the entry") {
    const GuestAddr at(0xffff800100000040);
    const GuestAddr dst(0xffff800008001234);
    auto e = make_plt_entry(PltFormat::AdrpAdd, at, dst);
    REQUIRE(e.ok());
    CHECK(e->size() == 12);
    CHECK((e->insn[0].raw & 0x9f00001f) == 0x90000010);      // adrp x16, ...
    CHECK(e->insn[1].raw == (0x91000210u | (0x234u << 10))); // add x16, x16, #0x234
    CHECK(e->insn[2].raw == 0xd61f0200);                     // br x16
    CHECK(e->bytes().size() == 12);
    CHECK(plt_entry_target(at, *e) == dst);
}

TEST_CASE("PLT entry up to 4.19: movn/movk/movk/br x16, absolute, 16 bytes") {
    const GuestAddr at(0xffff800100000040);
    const GuestAddr dst(0xffff800008001234);
    auto e = make_plt_entry(PltFormat::MovWide, at, dst);
    REQUIRE(e.ok());
    CHECK(e->size() == 16);
    CHECK(e->insn[0].raw == 0x92800010u + ((0xffffu & ~0x1234u) << 5)); // movn x16, #0xedcb
    CHECK(e->insn[1].raw == 0xf2a00010u + (0x0800u << 5));              // movk x16, #0x800, lsl 16
    CHECK(e->insn[2].raw == 0xf2c00010u + (0x8000u << 5));              // movk x16, #0x8000, lsl 32
    CHECK(e->insn[3].raw == 0xd61f0200);                                // br x16
    CHECK(plt_entry_target(at, *e) == dst);
    const auto bytes = e->bytes();
    REQUIRE(bytes.size() == 16);
    CHECK(bytes[12] == 0x00);
    CHECK(bytes[15] == 0xd6);
    // Position independent: the same words anywhere.
    CHECK(*make_plt_entry(PltFormat::MovWide, GuestAddr(0xffff800200000000), dst) == *e);
    // movn forces bits 63:48 to ones: a user address cannot be reached.
    CHECK_FALSE(make_plt_entry(PltFormat::MovWide, at, GuestAddr(0x0000800008001234)).ok());
    // As the kernel builds it for an undefined weak symbol (0): 0xffff000000000000.
    const PltEntry weak = plt_entry_as_kernel(PltFormat::MovWide, at, GuestAddr(0));
    CHECK(plt_entry_target(at, weak) == GuestAddr(0xffff000000000000));
    // A word that is not the entry's does not decode.
    PltEntry broken = *e;
    broken.insn[3] = InsnWord(0xd63f0200); // blr x16
    CHECK_FALSE(plt_entry_target(at, broken).has_value());
}

TEST_CASE("PltSection with 16-byte entries: spacing, section size, no erratum skip") {
    // With erratum 843419 on, an adrp/add entry would skip the slot at page offset 0xff8.
    PltSection plt(".plt", GuestAddr(0xffff800100000fe8), 4, true, PltFormat::MovWide);
    auto a = plt.emit(GuestAddr(0xffff800008000000), "a");
    auto b = plt.emit(GuestAddr(0xffff800008000040), "b");
    auto c = plt.emit(GuestAddr(0xffff800008000080), "c");
    REQUIRE((a.ok() && b.ok() && c.ok()));
    CHECK(*b == GuestAddr(0xffff800100000ff8)); // Holds a movn, not an ADRP: not skipped.
    CHECK(*c == *b + int64_t(16));
    CHECK(plt.used() == 3);
    CHECK(plt_section_size(2, PltFormat::MovWide) == 48);
}

TEST_CASE("count_plts: other-section branches, duplicates once, init apart") {
    auto obj = assemble(R"(
        .text
        .globl f
f:      bl      ext_a
        bl      ext_a          // duplicate (CALL26, ext_a, 0): counted once
        bl      ext_b
        bl      local_fn       // same section: never a PLT
        b       ext_a          // JUMP26 differs in type: counted again
        bl      ext_c + 8      // addend != 0: always counted
        bl      ext_c + 8
local_fn:
        ret
        .section .init.text, "ax"
init:   bl      ext_a
        bl      f              // defined in another section (.text): counted
        ret
)", "plt_count.o");
    REQUIRE_MESSAGE(obj.ok(), (obj.ok() ? "" : obj.error().message));
    auto elf = ElfObject::parse(*obj);
    REQUIRE(elf.ok());
    const PltCounts counts = count_plts(*elf, false);
    CHECK(counts.core == 5);
    CHECK(counts.init == 2);
}

TEST_CASE("PltSection: dedup by target, overflow past plt_max_entries") {
    PltSection plt(".plt", GuestAddr(0xffff800100000000), 2, false);
    auto a = plt.emit(GuestAddr(0xffff800008000000), "a");
    auto a2 = plt.emit(GuestAddr(0xffff800008000000), "a");
    auto b = plt.emit(GuestAddr(0xffff800008000100), "b");
    REQUIRE(a.ok());
    REQUIRE(a2.ok());
    REQUIRE(b.ok());
    CHECK(*a == *a2);
    CHECK(*b == *a + int64_t(kPltEntrySize));
    CHECK(plt.used() == 2);
    auto c = plt.emit(GuestAddr(0xffff800008000200), "c");
    CHECK_FALSE(c.ok());
    CHECK(plt.overflowed());
    CHECK(plt_section_size(2) == 36);
}

TEST_CASE("PltSection: only the previous entry is reused, as module_emit_plt_entry does") {
    // The kernel compares the new entry with plt[plt_num_entries - 1] only: it relies on the
    // branch relocations being sorted, so a target seen before but not last gets a new entry.
    PltSection plt(".plt", GuestAddr(0xffff800100000000), 8, false);
    const GuestAddr a(0xffff800008000000);
    const GuestAddr b(0xffff800008000100);
    auto a1 = plt.emit(a, "a");
    auto a2 = plt.emit(a, "a");
    auto b1 = plt.emit(b, "b");
    auto a3 = plt.emit(a, "a");
    REQUIRE((a1.ok() && a2.ok() && b1.ok() && a3.ok()));
    CHECK(*a2 == *a1);
    CHECK(*b1 == *a1 + int64_t(kPltEntrySize));
    CHECK(*a3 == *a1 + int64_t(2 * kPltEntrySize));
    CHECK(plt.used() == 3);
}

TEST_CASE("count_plts: the erratum 843419 slack, DIV_ROUND_UP(n, 4096 / 12) per section") {
    // 6 distinct far callees: 6 entries without the workaround; with it, one more slot of slack
    // for a slot module_emit_plt_entry may skip at page offset 0xff8.
    auto obj = assemble(R"(
        .text
        .globl  caller
caller:
        bl      k0
        bl      k1
        bl      k2
        bl      k3
        bl      k4
        bl      k5
        ret
)",
                        "plt_slack.o");
    REQUIRE_MESSAGE(obj.ok(), (obj.ok() ? "" : obj.error().message));
    auto elf = ElfObject::parse(*obj);
    REQUIRE(elf.ok());
    CHECK(count_plts(*elf, false).core == 6);
    CHECK(count_plts(*elf, true).core == 7);
}
