// ElfObject: an ELF64 little-endian AArch64 relocatable object (ET_REL) read into plain value
// types. It is what the kernel's module loader sees in load_module(): section headers, the
// symbol table and the RELA sections, before layout_and_allocate() places anything. Parsing
// never trusts the input: a truncated or malformed file, another machine or another ELF type
// is an Error naming the object, never a crash. Only elf_object.cpp touches llvm/Object.
#pragma once

#include "emu/object_bytes.h"
#include "emu/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu {

// ELF constants the loader needs; values from the ELF gABI.
namespace elf {
inline constexpr uint32_t kShtProgbits = 1;
inline constexpr uint32_t kShtSymtab = 2;
inline constexpr uint32_t kShtRela = 4;
inline constexpr uint32_t kShtNobits = 8;
inline constexpr uint32_t kShtRel = 9;
inline constexpr uint64_t kShfWrite = 0x1;
inline constexpr uint64_t kShfAlloc = 0x2;
inline constexpr uint64_t kShfExecinstr = 0x4;
inline constexpr uint64_t kShfInfoLink = 0x40;
// Linux's OS-specific values (include/uapi/linux/elf.h) for livepatch modules: relocation
// sections the module loader leaves to livepatch, and symbols livepatch resolves.
inline constexpr uint64_t kShfRelaLivepatch = 0x00100000;
inline constexpr uint16_t kShnLivepatch = 0xff20;
inline constexpr uint16_t kShnUndef = 0;
inline constexpr uint16_t kShnLoreserve = 0xff00;
inline constexpr uint16_t kShnAbs = 0xfff1;
inline constexpr uint16_t kShnCommon = 0xfff2;
inline constexpr uint8_t kStbLocal = 0;
inline constexpr uint8_t kStbGlobal = 1;
inline constexpr uint8_t kStbWeak = 2;
inline constexpr uint8_t kSttNotype = 0;
inline constexpr uint8_t kSttObject = 1;
inline constexpr uint8_t kSttFunc = 2;
inline constexpr uint8_t kSttSection = 3;
inline constexpr uint8_t kSttFile = 4;
} // namespace elf

struct ElfSection {
    uint32_t index = 0;
    std::string name;
    uint32_t type = 0;  // sh_type
    uint64_t flags = 0; // sh_flags
    uint64_t alignment = 1;
    uint64_t size = 0;  // sh_size (also for NOBITS, which has no bytes)
    uint32_t link = 0;  // sh_link
    uint32_t info = 0;  // sh_info
    std::vector<uint8_t> bytes; // Contents; empty for SHT_NOBITS.

    bool is_alloc() const { return (flags & elf::kShfAlloc) != 0; }
    bool is_exec() const { return (flags & elf::kShfExecinstr) != 0; }
    bool is_write() const { return (flags & elf::kShfWrite) != 0; }
    bool is_nobits() const { return type == elf::kShtNobits; }
};

struct ElfSymbol {
    uint32_t index = 0;
    std::string name;           // For STT_SECTION symbols: the section's name.
    uint16_t section_index = 0; // st_shndx (kShnUndef, kShnAbs, kShnCommon or a section).
    uint64_t value = 0;
    uint64_t size = 0;
    uint8_t binding = 0; // STB_*
    uint8_t type = 0;    // STT_*

    bool is_undefined() const { return section_index == elf::kShnUndef; }
    bool is_absolute() const { return section_index == elf::kShnAbs; }
    bool is_global() const { return binding == elf::kStbGlobal || binding == elf::kStbWeak; }
};

struct ElfRelocation {
    uint64_t offset = 0; // r_offset within the target section.
    uint32_t type = 0;   // ELF64_R_TYPE
    uint32_t symbol = 0; // ELF64_R_SYM: index into ElfObject::symbols.
    int64_t addend = 0;  // r_addend
};

// One SHT_RELA section and the section its relocations patch.
struct ElfRelocationSection {
    uint32_t index = 0;          // The RELA section itself.
    uint32_t target_section = 0; // sh_info.
    std::vector<ElfRelocation> relocations;
};

struct ElfObject {
    std::string name;
    std::vector<ElfSection> sections;   // Indexed by ELF section index (index 0 is the null one).
    std::vector<ElfSymbol> symbols;     // Indexed by symbol index (index 0 is the null one).
    std::vector<ElfRelocationSection> relocation_sections;

    // Parses `obj` as an ELF64 LE AArch64 ET_REL object; errors read "NAME: error: ...".
    static Result<ElfObject> parse(const ObjectBytes& obj);
    // Same, but names the object `display_name` in the result and in errors.
    static Result<ElfObject> parse(const ObjectBytes& obj, std::string_view display_name);

    // The section with this name, or nullptr.
    const ElfSection* find_section(std::string_view section_name) const;
};

} // namespace klpemu
