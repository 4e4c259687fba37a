// The loader's edges (issue 21): a branch to an undefined weak symbol in a kernel object (the
// static-link rule: the next instruction), relocations in sections without SHF_ALLOC (applied
// for klpemu, warnings rather than failures, since the kernel never applies them), and the
// ABS32/ABS16 overflow rule docs/toolchain.md states.
#include "emu/assembler.h"
#include "emu/loader.h"
#include "emu/relocation.h"
#include "emu/symbol_table.h"
#include "support/contains.h"

#include <doctest/doctest.h>

#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <string>

using namespace klpemu;

using klpemu::test::contains;

namespace {

const GuestAddr kBase(0xffff800008000000);

ObjectBytes assemble_ok(std::string_view source, std::string_view name) {
    auto obj = assemble(source, name);
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    return std::move(*obj);
}

const PlacedSection& section(const LoadedObject& o, std::string_view name) {
    for (const auto& s : o.sections) {
        if (s.name == name) {
            return s;
        }
    }
    FAIL("no section " << name);
    return o.sections.front();
}

uint32_t word_at(const PlacedSection& s, uint64_t offset) {
    uint32_t w = 0;
    std::memcpy(&w, s.bytes.data() + offset, 4);
    return w;
}

constexpr std::string_view kWeakCalls = R"(
        .weak   hook_fn
        .weak   hook_tail
        .text
        .globl  caller
        .type   caller, %function
caller:
        bl      hook_fn
        b       hook_tail
        .size   caller, . - caller
)";

} // namespace

TEST_CASE("loader: an undefined weak CALL26/JUMP26 in a kernel object branches to the next insn") {
    auto loaded = Loader().load(assemble_ok(kWeakCalls, "vmlinux.S"), kBase, {}, {});
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
    const PlacedSection& text = section(*loaded, ".text");
    CHECK(word_at(text, 0) == 0x94000001); // bl .+4
    CHECK(word_at(text, 4) == 0x14000001); // b .+4
}

TEST_CASE("loader: an undefined weak branch in a module without a PLT hook says why it fails") {
    LoadOptions opts;
    opts.kind = ObjectKind::Module;
    auto loaded = Loader().load(assemble_ok(kWeakCalls, "mod.S"), kBase, opts, {});
    REQUIRE_FALSE(loaded.ok());
    const std::string& msg = loaded.error().message;
    CHECK(msg.starts_with(
        "mod.S: error: CALL26 at caller (0xffff800008000000) to hook_fn (0x0000000000000000)"));
    CHECK(
        contains(msg, "an undefined weak symbol is 0 in a module, which only a PLT entry reaches"));
}

TEST_CASE("loader: a defined or exported weak symbol is not redirected to the next insn") {
    auto obj = assemble_ok(R"(
        .weak   hook_fn
        .text
        .globl  caller
caller:
        bl      hook_fn
        ret
hook_fn:
        ret
)",
                           "vmlinux.S");
    auto loaded = Loader().load(obj, kBase, {}, {});
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
    CHECK(word_at(section(*loaded, ".text"), 0) == 0x94000002); // bl hook_fn (caller+0x8)
}

namespace {

// A CIE and an FDE in .debug_frame, then, in the section `section_directive` opens, a 32-bit
// word holding f's absolute address: ABS32 of a kernel address cannot fit.
std::string debug_frame_overflow(std::string_view section_directive) {
    return fmt::format(R"(
        .cfi_sections .debug_frame
        .text
        .globl  f
        .type   f, %function
f:
        .cfi_startproc
        ret
        .cfi_endproc
        .size   f, . - f
        {}
        .word   f
        .word   0x12345678
)",
                       section_directive);
}

} // namespace

TEST_CASE("loader: an overflow in .debug_frame or .comment is a warning naming the section") {
    for (std::string_view name : {".debug_frame", ".comment"}) {
        CAPTURE(name);
        const std::string directive = fmt::format(".section {},\"\",%progbits", name);
        auto loaded =
            Loader().load(assemble_ok(debug_frame_overflow(directive), "df.S"), kBase, {}, {});
        REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
        REQUIRE(loaded->warnings.size() == 1);
        const LoadWarning& w = loaded->warnings[0];
        CHECK(w.section == name);
        CHECK(contains(w.message, "R_AARCH64_ABS32 overflow"));
        CHECK(contains(w.message, "against 'f'"));
        CHECK(contains(w.message, "never applies relocations in a non-allocated section"));
        const std::string line = format_load_warning("df.S", w);
        CHECK(line.starts_with(fmt::format("df.S: warning: nonalloc-relocation: {}+0x", name)));
    }
}

TEST_CASE("loader: .debug_frame keeps its relocated CFI next to an overflowing word") {
    auto loaded = Loader().load(
        assemble_ok(debug_frame_overflow(".section .debug_frame,\"\",%progbits"), "df.S"), kBase,
        {}, {});
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
    REQUIRE(loaded->cfi.size() == 1);
    const auto& df = loaded->cfi[0];
    CHECK(df.name == ".debug_frame");
    // The two words come first (the assembler appends the CFI it generates), then the CIE.
    REQUIRE(df.bytes.size() > 12);
    uint32_t low = 0;
    std::memcpy(&low, df.bytes.data(), 4);
    CHECK(low == uint32_t(kBase.value)); // Truncated, as the kernel's reloc_data writes it.
    uint32_t cie_length = 0;
    std::memcpy(&cie_length, df.bytes.data() + 8, 4);
    const size_t fde = 8 + 4 + cie_length;
    REQUIRE(df.bytes.size() >= fde + 16);
    uint64_t initial_location = 0;
    std::memcpy(&initial_location, df.bytes.data() + fde + 8, 8);
    CHECK(initial_location == kBase.value);
}

TEST_CASE("loader: a non-allocated section's relocation that cannot apply is a warning, too") {
    auto obj = assemble_ok(R"(
        .text
        .globl  f
f:      ret
        .section .comment,"",%progbits
        .word   0
        .reloc  0, R_AARCH64_TLSLE_ADD_TPREL_LO12, f
        .reloc  2, R_AARCH64_ABS32, f
)",
                           "c.S");
    auto loaded = Loader().load(obj, kBase, {}, {});
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
    REQUIRE(loaded->warnings.size() == 2);
    CHECK(contains(loaded->warnings[0].message, "unsupported relocation type"));
    CHECK(contains(loaded->warnings[1].message, "lies outside section .comment"));
}

TEST_CASE("loader: the same overflow in an allocated section still fails the load") {
    const std::string msg = [] {
        auto loaded = Loader().load(
            assemble_ok(debug_frame_overflow(".section .rodata,\"a\",%progbits"), "ro.S"), kBase,
            {}, {});
        REQUIRE_FALSE(loaded.ok());
        return loaded.error().message;
    }();
    CHECK(msg.starts_with("ro.S: error: R_AARCH64_ABS32 overflow"));
}

TEST_CASE("toolchain.md states the ABS32/ABS16 overflow rule the code applies") {
    std::ifstream in(std::string(KLPEMU_SOURCE_ROOT) + "/docs/toolchain.md");
    REQUIRE(in.good());
    std::string row;
    for (std::string line; std::getline(in, line);) {
        if (contains(line, "| `ABS64` / `ABS32` / `ABS16` |")) {
            row = line;
        }
    }
    REQUIRE_FALSE(row.empty());
    // The code (reloc_data with RELOC_OP_ABS): 0 <= S + A <= UINT32_MAX / UINT16_MAX.
    auto abs = [](RelocType type, uint64_t S, int64_t A) {
        uint8_t place[4] = {};
        return apply_relocation(uint32_t(type), place, RelocValues{S, A, GuestAddr(0)}).ok();
    };
    CHECK(abs(RelocType::Abs32, 0xffffffff, 0));
    CHECK_FALSE(abs(RelocType::Abs32, 0x100000000, 0));
    CHECK_FALSE(abs(RelocType::Abs32, 0, -1));
    CHECK(abs(RelocType::Abs16, 0xffff, 0));
    CHECK_FALSE(abs(RelocType::Abs16, 0x10000, 0));
    CHECK_FALSE(abs(RelocType::Abs16, 0, -1));
    // So the page must say unsigned, and must not claim that signed values fit.
    CHECK(contains(row, "unsigned"));
    CHECK_FALSE(contains(row, "signed or unsigned"));
    CHECK(contains(row, "negative"));
}
