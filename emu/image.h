// The loaded image: what the loader produced from ELF relocatable objects placed at guest
// addresses. Pure data: the machine maps it, objdump prints it, the patcher reads its patch
// sites and the unwinder its CFI. Nothing here refers to LLVM or Unicorn.
#pragma once

#include "emu/guest_addr.h"
#include "emu/line_table.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace klpemu {

// Which kind of object this is, as the kernel would see it.
enum class ObjectKind { Kernel, Module, Livepatch };

enum class SectionKind { Text, ROData, Data, Bss, Plt, Other };

struct PlacedSection {
    std::string name; // ELF section name, e.g. ".text" or ".init.text".
    SectionKind kind = SectionKind::Other;
    GuestRange range;           // Where it lives in the guest.
    uint64_t alignment = 1;     // sh_addralign.
    bool executable = false;    // SHF_EXECINSTR.
    bool writable = false;      // SHF_WRITE.
    std::vector<uint8_t> bytes; // Relocated contents; empty for NOBITS (zero-filled by the mapper).
};

enum class SymbolKind { Function, Object, Section, NoType };

struct Symbol {
    std::string name;
    GuestAddr addr;
    uint64_t size = 0;
    SymbolKind kind = SymbolKind::NoType;
    bool global = false; // STB_GLOBAL or STB_WEAK: visible to objects loaded later (an export).
    std::string object;  // Name of the object that defines it.
    bool weak = false;   // STB_WEAK: another object's strong definition may take its place.
};

// One ftrace call site recorded in __patchable_function_entries (reference §1).
//   =2:    func: [bti c] nop(first_nop) ; nop(rec_ip)
//   =4,2:  A: nop nop (64-bit ops literal) ; func: [bti c] nop(first_nop) ; nop(rec_ip)
struct PatchSite {
    std::string function;     // The function the site belongs to.
    GuestAddr function_addr;  // Its symbol address.
    GuestAddr entry;          // The address __patchable_function_entries records.
    GuestAddr first_nop;      // The NOP that becomes `mov x9, x30` (ftrace_init_nop).
    GuestAddr rec_ip;         // The NOP that becomes `bl <trampoline>` (ftrace rec->ip).
    std::optional<GuestAddr> ops_literal; // The 8-byte CALL_OPS literal (=4,2 layouts only).
    bool bti = false;         // A `bti c` precedes the NOPs.
};

// A CFI section (.eh_frame or .debug_frame) with relocations applied, for the cfi unwinder.
struct CfiSection {
    std::string name;           // ".eh_frame" or ".debug_frame".
    GuestAddr addr;             // Address its bytes are relocated for, never guest memory
                                // (eh_frame: just past its object; debug_frame: 0).
    std::vector<uint8_t> bytes; // Relocated contents.
};

// A relocation the loader could not apply as written in a section the kernel never relocates
// (no SHF_ALLOC: .debug_frame, .comment, ...). The kernel's apply_relocations skips such sections,
// so this is no load failure; the machine reports it as a `nonalloc-relocation` finding.
struct LoadWarning {
    std::string section; // ".debug_frame"
    uint64_t offset = 0; // r_offset within the section
    std::string message; // One line, without the location prefix.
};

// A livepatch relocation section (`.klp.rela.<objname>.<section>`, SHF_RELA_LIVEPATCH) that the
// loader did not apply: livepatch applies it when <objname> is patched. Kept as the kernel keeps
// a livepatch module's ELF information (mod->klp_info, module->symtab).
struct KlpRelocation {
    uint64_t offset = 0;           // r_offset within the target section.
    uint32_t type = 0;             // R_AARCH64_*.
    int64_t addend = 0;            // r_addend.
    std::string symbol;            // Its symbol's name: `.klp.sym.<objname>.<name>,<sympos>`.
    bool livepatch_symbol = false; // The symbol's st_shndx is SHN_LIVEPATCH.
};
struct KlpRelaSection {
    std::string name;                     // ".klp.rela.vmlinux..text"
    std::string target;                   // The section it patches (sh_info), e.g. ".text".
    std::optional<GuestAddr> target_addr; // Where the target was placed; nullopt: not allocated.
    std::vector<KlpRelocation> relocations;
};

struct LoadedObject {
    std::string name;
    ObjectKind kind = ObjectKind::Kernel;
    std::vector<PlacedSection> sections;
    std::vector<Symbol> symbols;
    std::vector<PatchSite> patch_sites;
    std::vector<CfiSection> cfi;
    GuestRange extent; // From the lowest to the highest placed byte, page aligned.
    std::optional<GuestRange> init_extent; // Init memory, when placed apart (LoadOptions::init_base).
    std::vector<LoadWarning> warnings;     // Non-fatal problems in unallocated sections.
    std::vector<KlpRelaSection> klp_relocations; // Left for livepatch, in section order.
    // Its DWARF line table, read when Machine::lines() first asks (nullptr without -g).
    std::shared_ptr<const UnreadLineTable> line_table;
};

} // namespace klpemu
