// Livepatch modules' non-exported symbols: klp-convert's output format (SHN_LIVEPATCH symbols,
// `.klp.rela.<obj>.<section>` sections with SHF_RELA_LIVEPATCH), the loader leaving those
// sections unapplied for livepatch, and klp_find_object_symbol's sympos rules and messages.
#include "emu/assembler.h"
#include "emu/elf_object.h"
#include "emu/loader.h"
#include "emu/symbol_table.h"
#include "patcher/livepatch/klp_convert.h"
#include "patcher/livepatch/klp_relocations.h"

#include <doctest/doctest.h>

#include <cstring>

using namespace klpemu;
using namespace klpemu::patcher::livepatch;

namespace {

const GuestAddr kBase(0xffff800010000000);

// What a livepatch replacement compiles to: two non-exported vmlinux symbols, one of a module,
// and an exported function the module loader links as usual.
constexpr std::string_view kModule = R"(
        .text
        .globl  replacement
        .type   replacement, %function
replacement:
        bl      ".klp.sym.vmlinux.secret_scale,0"
        adrp    x0, ".klp.sym.vmlinux.secret_count,0"
        add     x0, x0, :lo12:".klp.sym.vmlinux.secret_count,0"
        bl      ".klp.sym.target_mod.target_secret,2"
        bl      kernel_add
        ret
        .size   replacement, . - replacement
)";

const ElfSection* find(const ElfObject& elf, std::string_view name) {
    return elf.find_section(name);
}

const ElfRelocationSection* relocations_of(const ElfObject& elf, std::string_view name) {
    for (const auto& rs : elf.relocation_sections) {
        if (elf.sections[rs.index].name == name) {
            return &rs;
        }
    }
    return nullptr;
}

uint32_t word_at(const LoadedObject& o, std::string_view section, uint64_t offset) {
    for (const auto& s : o.sections) {
        if (s.name == section) {
            uint32_t w = 0;
            std::memcpy(&w, s.bytes.data() + offset, 4);
            return w;
        }
    }
    FAIL("no section " << section);
    return 0;
}

} // namespace

TEST_CASE("klp_convert moves .klp.sym relocations into .klp.rela sections") {
    auto obj = assemble(kModule, "klp_mod.s");
    REQUIRE(obj.ok());
    auto converted = klp_convert(*obj);
    REQUIRE(converted.ok());
    auto elf = ElfObject::parse(*converted);
    REQUIRE(elf.ok());
    const ElfSection* text = find(*elf, ".text");
    REQUIRE(text != nullptr);

    const ElfRelocationSection* vmlinux = relocations_of(*elf, ".klp.rela.vmlinux..text");
    REQUIRE(vmlinux != nullptr);
    const ElfSection& vsec = elf->sections[vmlinux->index];
    CHECK(vsec.type == elf::kShtRela);
    CHECK((vsec.flags & elf::kShfRelaLivepatch) != 0);
    CHECK((vsec.flags & elf::kShfAlloc) != 0); // Kept in memory by the module loader.
    CHECK(vmlinux->target_section == text->index);
    CHECK(vmlinux->relocations.size() == 3); // CALL26, ADR_PREL_PG_HI21, ADD_ABS_LO12_NC
    for (const auto& r : vmlinux->relocations) {
        CHECK(elf->symbols[r.symbol].name.starts_with(".klp.sym.vmlinux."));
        CHECK(elf->symbols[r.symbol].section_index == elf::kShnLivepatch);
    }
    const ElfRelocationSection* mod = relocations_of(*elf, ".klp.rela.target_mod..text");
    REQUIRE(mod != nullptr);
    REQUIRE(mod->relocations.size() == 1);
    CHECK(elf->symbols[mod->relocations[0].symbol].name == ".klp.sym.target_mod.target_secret,2");

    // The ordinary relocation stays where it was.
    const ElfRelocationSection* rest = relocations_of(*elf, ".rela.text");
    REQUIRE(rest != nullptr);
    REQUIRE(rest->relocations.size() == 1);
    CHECK(elf->symbols[rest->relocations[0].symbol].name == "kernel_add");
}

TEST_CASE("klp_convert leaves an object without .klp.sym symbols as it is") {
    auto obj = assemble("        .text\nf:      bl      g\n        ret\n", "plain.s");
    REQUIRE(obj.ok());
    auto converted = klp_convert(*obj);
    REQUIRE(converted.ok());
    CHECK(converted->bytes == obj->bytes);
}

TEST_CASE("the loader keeps SHF_RELA_LIVEPATCH sections for livepatch instead of applying them") {
    auto obj = assemble(kModule, "klp_mod.s");
    REQUIRE(obj.ok());
    auto converted = klp_convert(*obj);
    REQUIRE(converted.ok());
    LoadedObject kernel;
    kernel.name = "vmlinux";
    kernel.symbols.push_back(Symbol{"kernel_add", GuestAddr(0xffff800008000000 + 0x100), 8,
                                    SymbolKind::Function, true, "vmlinux"});
    SymbolTable exports;
    exports.add_object(kernel);
    LoadOptions opts;
    opts.kind = ObjectKind::Livepatch;
    auto loaded = Loader().load(*converted, kBase, opts, exports);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->klp_relocations.size() == 2);
    const KlpRelaSection& v = loaded->klp_relocations[0];
    CHECK(v.name == ".klp.rela.vmlinux..text");
    CHECK(v.target == ".text");
    REQUIRE(v.target_addr.has_value());
    REQUIRE(v.relocations.size() == 3);
    CHECK(v.relocations[0].symbol == ".klp.sym.vmlinux.secret_scale,0");
    CHECK(v.relocations[0].livepatch_symbol);
    CHECK(v.relocations[0].offset == 0);
    // Unwritten: `bl .` and `adrp x0, .` as the assembler left them; kernel_add is linked.
    CHECK(word_at(*loaded, ".text", 0) == 0x94000000u);
    CHECK(word_at(*loaded, ".text", 4) == 0x90000000u);
    CHECK(word_at(*loaded, ".text", 16) != 0x94000000u);
}

TEST_CASE("klp_find_object_symbol: sympos, ambiguity and the kernel's messages") {
    LoadedObject a, b, mod;
    a.name = "vmlinux";
    a.symbols.push_back(
        Symbol{"dup", GuestAddr(0xffff800008000100), 8, SymbolKind::Function, false, "vmlinux"});
    a.symbols.push_back(
        Symbol{"unique", GuestAddr(0xffff800008000200), 8, SymbolKind::Function, false, "vmlinux"});
    b.name = "second";
    b.symbols.push_back(
        Symbol{"dup", GuestAddr(0xffff800008100000), 8, SymbolKind::Function, false, "second"});
    mod.name = "mymod";
    mod.symbols.push_back(
        Symbol{"dup", GuestAddr(0xffff800010000000), 8, SymbolKind::Function, false, "mymod"});
    SymbolTable table;
    table.add_object(b); // Added out of address order: vmlinux counts by address.
    table.add_object(a);
    table.add_object(mod);
    const std::vector<std::string> kernel{"second", "vmlinux"};
    const KlpSymbolScope scope{table, kernel};

    CHECK(klp_find_object_symbol(scope, "", "unique", 0)->addr == GuestAddr(0xffff800008000200));
    CHECK(klp_find_object_symbol(scope, "", "dup", 1)->addr == GuestAddr(0xffff800008000100));
    CHECK(klp_find_object_symbol(scope, "", "dup", 2)->addr == GuestAddr(0xffff800008100000));
    CHECK(klp_find_object_symbol(scope, "mymod", "dup", 0)->addr == GuestAddr(0xffff800010000000));
    CHECK(klp_find_object_symbol(scope, "", "dup", 0).error().message ==
          "unresolvable ambiguity for symbol 'dup' in object '(null)'");
    CHECK(klp_find_object_symbol(scope, "", "dup", 3).error().message ==
          "symbol position 3 for symbol 'dup' in object 'vmlinux' not found");
    CHECK(klp_find_object_symbol(scope, "mymod", "dup", 2).error().message ==
          "symbol position 2 for symbol 'dup' in object 'mymod' not found");
    CHECK(klp_find_object_symbol(scope, "", "missing", 0).error().message ==
          "symbol 'missing' not found in symbol table");
}
