// Every way a guest object can fail to load ends in one message that names the object and the
// symbol or place, in the objtool style "OBJ: error: ...", never in a crash.
#include "emu/assembler.h"
#include "emu/loader.h"
#include "emu/relocation.h"
#include "emu/symbol_table.h"
#include "support/contains.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using namespace klpemu;

using klpemu::test::contains;

namespace {

const GuestAddr kKernelBase(0xffff800008000000);

ObjectBytes assemble_ok(std::string_view source, std::string_view name) {
    auto obj = assemble(source, name);
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    return std::move(*obj);
}

std::string load_error(const ObjectBytes& obj, GuestAddr base = kKernelBase,
                       const SymbolTable& exports = {}, const LoadOptions& opts = {}) {
    auto loaded = Loader().load(obj, base, opts, exports);
    REQUIRE_FALSE(loaded.ok());
    return loaded.error().message;
}

constexpr std::string_view kCaller = R"(
        .text
        .globl  caller
        .type   caller, %function
caller:
        nop
        nop
        bl      missing_fn
        ret
        .size   caller, . - caller
)";

} // namespace

TEST_CASE("loader errors: an undefined symbol names the object, symbol and referencing place") {
    const std::string msg = load_error(assemble_ok(kCaller, "mod.S"));
    CHECK(msg == "mod.S: error: undefined symbol 'missing_fn' (referenced from caller+0x8)");
}

TEST_CASE("loader errors: LoadOptions::name overrides the object name in messages") {
    LoadOptions opts;
    opts.name = "livepatch_demo";
    const std::string msg = load_error(assemble_ok(kCaller, "mod.S"), kKernelBase, {}, opts);
    CHECK(msg.starts_with("livepatch_demo: error: undefined symbol 'missing_fn'"));
}

TEST_CASE("loader errors: a relocation apply_relocate_add does not know is rejected by name") {
    const auto obj = assemble_ok(R"(
        .text
        .globl  tls_user
        .type   tls_user, %function
tls_user:
        mrs     x1, tpidr_el0
        add     x0, x1, #:tprel_lo12_nc:counter
        ret
        .size   tls_user, . - tls_user
        .section .tbss,"awT",%nobits
        .p2align 2
counter:
        .zero   4
)",
                                 "tls.S");
    const std::string msg = load_error(obj);
    CHECK(msg.starts_with("tls.S: error: unsupported relocation type "));
    CHECK(contains(msg, "R_AARCH64_TLSLE_ADD_TPREL_LO12_NC"));
    CHECK(contains(msg, "at tls_user+0x4"));
}

TEST_CASE("loader errors: a CALL26 beyond ±128 MiB without a PLT hook is out of range") {
    SymbolTable kernel_symbols;
    auto kernel = Loader().load(assemble_ok(R"(
        .text
        .globl  missing_fn
        .type   missing_fn, %function
missing_fn:
        ret
        .size   missing_fn, 4
)",
                                            "vmlinux"),
                                kKernelBase, {}, kernel_symbols);
    REQUIRE(kernel.ok());
    kernel_symbols.add_object(*kernel);

    const GuestAddr module_base = kKernelBase + (int64_t(1) << 30); // 1 GiB above the kernel.
    const GuestAddr place = module_base + 8;                        // caller+0x8
    const int64_t by = -kBranch26Reach - (kKernelBase - place);
    const std::string msg = load_error(assemble_ok(kCaller, "far.S"), module_base, kernel_symbols);
    CHECK(msg == fmt::format("far.S: error: CALL26 at caller+0x8 ({}) to missing_fn ({}) is out "
                             "of range by {} bytes (BL reach is ±128 MiB)",
                             place, kKernelBase, by));

    SUBCASE("a BranchRangeHook (the future PLT) makes it load and the BL goes to its address") {
        struct NearPlt : BranchRangeHook {
            GuestAddr plt;
            OutOfRangeBranch seen;
            std::optional<GuestAddr> redirect(const OutOfRangeBranch& b) override {
                seen = b;
                return plt;
            }
        } hook;
        hook.plt = module_base + 0x1000;
        LoadOptions opts;
        opts.branch_hook = &hook;
        auto loaded = Loader().load(assemble_ok(kCaller, "far.S"), module_base, opts,
                                    kernel_symbols);
        REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
        CHECK(hook.seen.symbol == "missing_fn");
        CHECK(hook.seen.place == place);
        CHECK(hook.seen.target == kKernelBase);
        uint32_t bl = 0;
        std::memcpy(&bl, loaded->sections.at(0).bytes.data() + 8, 4);
        CHECK(bl == (0x94000000u | ((0x1000u - 8) >> 2))); // bl caller+0x1000
    }
}

TEST_CASE("loader errors: truncated and foreign ELF files are errors at every length") {
    const ObjectBytes full = assemble_ok(kCaller, "trunc.o");
    uint64_t shoff = 0;
    uint16_t shnum = 0;
    std::memcpy(&shoff, full.bytes.data() + 0x28, 8);
    std::memcpy(&shnum, full.bytes.data() + 0x3c, 2);
    const size_t table_end = shoff + uint64_t(shnum) * 64;
    REQUIRE(table_end <= full.bytes.size());
    // Lengths 0, mid-ident, mid-header, everything up to mid-section-table and past it.
    for (size_t len = 0; len < table_end; ++len) {
        ObjectBytes cut{full.name, {full.bytes.begin(), full.bytes.begin() + ptrdiff_t(len)}};
        auto parsed = Loader().load(cut, kKernelBase, {}, {});
        CAPTURE(len);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().message.starts_with("trunc.o: error: "));
    }
    CHECK(load_error(ObjectBytes{"empty.o", {}}) == "empty.o: error: truncated ELF header (0 bytes)");

    ObjectBytes x86 = full;
    x86.bytes[0x12] = 62; // e_machine = EM_X86_64
    CHECK(contains(load_error(x86), "trunc.o: error: not an AArch64 object"));
    ObjectBytes exec = full;
    exec.bytes[0x10] = 2; // e_type = ET_EXEC
    CHECK(contains(load_error(exec), "trunc.o: error: not a relocatable object"));
    ObjectBytes text{"notes.txt", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!',
                                   '!', '!', '!', '!'}};
    CHECK(load_error(text) == "notes.txt: error: not an ELF file (bad magic)");
    CHECK(!Loader::layout_size(ObjectBytes{"empty.o", {}}).ok());
}

TEST_CASE("loader errors: a patch site whose words are not NOPs is rejected") {
    const auto obj = assemble_ok(R"(
        .text
        .globl  f
        .type   f, %function
f:
        mov     x0, x1
        ret
        .size   f, . - f
        .section __patchable_function_entries,"awo",@progbits,f
        .p2align 3
        .quad   f
)",
                                 "bad_site.S");
    const std::string msg = load_error(obj);
    CHECK(contains(msg, "bad_site.S: error: patch site of f: first NOP at f "));
    CHECK(contains(msg, "is aa0103e0, not a NOP"));
}

TEST_CASE("loader errors: a CALL_OPS literal that is not 8-byte aligned is a misaligned site") {
    const auto obj = assemble_ok(R"(
        .text
        ret
        nop
        nop
        .globl  f
        .type   f, %function
f:
        nop
        nop
        ret
        .size   f, . - f
        .section __patchable_function_entries,"awo",@progbits,f
        .p2align 3
        .quad   f - 8
)",
                                 "misaligned.S");
    CHECK(contains(load_error(obj), "misaligned.S: error: misaligned patch-site f"));
}

TEST_CASE("loader errors: bad load address and common symbols") {
    CHECK(load_error(assemble_ok(kCaller, "mod.S"), kKernelBase + 4) ==
          "mod.S: error: load address 0xffff800008000004 is not page aligned");
    const auto common = assemble_ok("        .comm shared_buf, 64, 8\n", "common.S");
    CHECK(contains(load_error(common), "common.S: error: common symbol 'shared_buf'"));
}
