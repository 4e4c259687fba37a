// The loader's layout, symbols and CFI on a small assembled object, and the symbol table's
// naming rules (size-0 functions reach the next symbol; uncovered bytes name their section).
#include "emu/assembler.h"
#include "emu/cfi_table.h"
#include "emu/loader.h"
#include "emu/symbol_table.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

using namespace klpemu;

namespace {

const GuestAddr kBase(0xffff800008000000);

constexpr std::string_view kObject = R"(
        .text
        .globl  entry
        .type   entry, %function
entry:
        .cfi_startproc
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        mov     x29, sp
        bl      helper
        ldp     x29, x30, [sp], #16
        ret
        .cfi_endproc
        .size   entry, . - entry
        .globl  helper
helper:                              // No .type, no .size: assembly style.
        adrp    x0, table
        ldr     x0, [x0, #:lo12:table]
        ret
        .section .rodata
        .p2align 6
        .globl  table
        .type   table, %object
table:
        .quad   entry
        .size   table, 8
        .data
        .p2align 4
flag:   .long   1
        .bss
        .p2align 5
buffer: .zero   64
)";

const PlacedSection& section(const LoadedObject& o, std::string_view name) {
    for (const auto& s : o.sections) {
        if (s.name == name) {
            return s;
        }
    }
    FAIL("no section " << name);
    return o.sections.front();
}

} // namespace

TEST_CASE("loader: groups are page aligned, sections keep their alignment, symbols resolve") {
    auto obj = assemble(kObject, "small.S");
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    auto loaded = Loader().load(*obj, kBase, {}, {});
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
    const auto& text = section(*loaded, ".text");
    const auto& rodata = section(*loaded, ".rodata");
    const auto& data = section(*loaded, ".data");
    const auto& bss = section(*loaded, ".bss");
    CHECK(text.range.begin == kBase);
    CHECK(text.kind == SectionKind::Text);
    CHECK(text.executable);
    CHECK(rodata.range.begin == kBase + 0x1000);
    CHECK(rodata.kind == SectionKind::ROData);
    CHECK(data.range.begin == kBase + 0x2000);
    CHECK(data.writable);
    CHECK(bss.range.begin == kBase + 0x3000);
    CHECK(bss.kind == SectionKind::Bss);
    CHECK(bss.bytes.empty());
    CHECK(bss.range.size() == 64);
    CHECK(loaded->extent == GuestRange{kBase, kBase + 0x4000});
    CHECK(Loader::layout_size(*obj).value() == 0x4000);

    // .rodata holds the absolute address of entry. .eh_frame takes no guest memory (the extent
    // is what it would be without it) but is relocated as if it lay past the extent, so its
    // FDE covers entry.
    uint64_t quad = 0;
    std::memcpy(&quad, rodata.bytes.data(), 8);
    CHECK(quad == kBase.value);
    CHECK(std::none_of(loaded->sections.begin(), loaded->sections.end(),
                       [](const PlacedSection& s) { return s.name == ".eh_frame"; }));
    REQUIRE(loaded->cfi.size() == 1);
    CHECK(loaded->cfi[0].name == ".eh_frame");
    CHECK(loaded->cfi[0].addr == loaded->extent.end);
    CfiTable cfi;
    REQUIRE(cfi.add_section(loaded->cfi[0]).ok());
    CHECK(cfi.find(kBase) != nullptr);
    CHECK(cfi.find(kBase + 4) != nullptr);

    SymbolTable table;
    table.add_object(*loaded);
    CHECK(table.symbolize(kBase).str() == "entry");
    CHECK(table.symbolize(kBase + 8).str() == "entry+0x8");
    const GuestAddr helper = table.lookup("helper")->addr;
    CHECK(table.symbolize(helper + 8).str() == "helper+0x8"); // Size 0: up to section end.
    CHECK_FALSE(table.function_at(helper + 8).has_value());
    CHECK(table.symbolize(data.range.begin).str() == "small.S:.data");
    CHECK(table.symbolize(bss.range.begin + 0x20).str() == "small.S:.bss+0x20");
    CHECK(table.symbolize(GuestAddr(0x1234)).str() == "0x0000000000001234");
    CHECK(table.lookup_in("small.S", "flag").has_value());
    CHECK_FALSE(table.lookup("flag").has_value());

    table.remove_object("small.S");
    CHECK_FALSE(table.lookup("entry").has_value());
    CHECK(table.symbolize(kBase).str() == "0xffff800008000000");
}

TEST_CASE("loader: .debug_frame is relocated in a host buffer at virtual address 0") {
    auto obj = assemble(R"(
        .cfi_sections .debug_frame
        .text
        .globl  f
        .type   f, %function
f:
        .cfi_startproc
        ret
        .cfi_endproc
        .size   f, . - f
)",
                        "df.S");
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    auto loaded = Loader().load(*obj, kBase, {}, {});
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
    REQUIRE(loaded->cfi.size() == 1);
    const auto& df = loaded->cfi[0];
    CHECK(df.name == ".debug_frame");
    CHECK(df.addr == GuestAddr(0));
    // The FDE's initial_location (8 bytes after its length and CIE pointer) is f's address.
    uint32_t cie_length = 0;
    std::memcpy(&cie_length, df.bytes.data(), 4);
    const size_t fde = 4 + cie_length;
    uint64_t initial_location = 0;
    std::memcpy(&initial_location, df.bytes.data() + fde + 8, 8);
    CHECK(initial_location == kBase.value);
}
