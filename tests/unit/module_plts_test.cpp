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
    auto e = make_plt_entry(at, dst);
    REQUIRE(e.ok());
    CHECK((e->adrp.raw & 0x9f00001f) == 0x90000010); // adrp x16, ...
    CHECK(e->add.raw == (0x91000210u | (0x234u << 10))); // add x16, x16, #0x234
    CHECK(e->br.raw == 0xd61f0200);                    // br x16
    CHECK(plt_entry_target(at, *e) == dst);
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

TEST_CASE("PltSection: reuse finds each target's own slot, whichever order they come back in") {
    PltSection plt(".plt", GuestAddr(0xffff800100000000), 8, false);
    const GuestAddr targets[] = {GuestAddr(0xffff800008000000), GuestAddr(0xffff800008000100),
                                 GuestAddr(0xffff800008000200), GuestAddr(0xffff800008000300)};
    std::vector<GuestAddr> first;
    for (size_t i = 0; i < 4; ++i) {
        auto at = plt.emit(targets[i], fmt::format("t{}", i));
        REQUIRE(at.ok());
        CHECK(*at == plt.base() + int64_t(i * kPltEntrySize));
        first.push_back(*at);
    }
    // Back in another order, repeatedly: always the slot that forwards to that target.
    for (size_t i : {2u, 0u, 3u, 1u, 3u, 2u}) {
        auto again = plt.emit(targets[i], "again");
        REQUIRE(again.ok());
        CHECK(*again == first[i]);
        CHECK(plt_entry_target(*again, plt.slots()[i].entry) == targets[i]);
    }
    CHECK(plt.used() == 4);
    CHECK(plt.slots().size() == 4);
    // A new target after the reuses still takes the next free slot.
    auto fifth = plt.emit(GuestAddr(0xffff800008000400), "t4");
    REQUIRE(fifth.ok());
    CHECK(*fifth == plt.base() + int64_t(4 * kPltEntrySize));
}
