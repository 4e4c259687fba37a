// A deliberately tiny ELF64 little-endian reader for tests: enough to check the header the
// assembler produced and to pull one section's bytes (usually .text) out of an object, without
// depending on the loader under test. Malformed input fails a doctest check, never crashes.
#pragma once

#include "emu/insn_word.h"
#include "emu/object_bytes.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::test {

struct ElfHeaderInfo {
    bool is_elf64_le = false;
    uint16_t type = 0;    // e_type: 1 = ET_REL
    uint16_t machine = 0; // e_machine: 183 = EM_AARCH64
};

template <typename T> T elf_read(const std::vector<uint8_t>& b, uint64_t off) {
    T v{};
    REQUIRE(off + sizeof(T) <= b.size());
    std::memcpy(&v, b.data() + off, sizeof(T));
    return v;
}

inline ElfHeaderInfo elf_header(const ObjectBytes& obj) {
    ElfHeaderInfo info;
    const auto& b = obj.bytes;
    if (b.size() < 64 || std::memcmp(b.data(), "\x7f" "ELF", 4) != 0) {
        return info;
    }
    info.is_elf64_le = b[4] == 2 && b[5] == 1;
    info.type = elf_read<uint16_t>(b, 16);
    info.machine = elf_read<uint16_t>(b, 18);
    return info;
}

// The names of all sections, in section-header order.
inline std::vector<std::string> elf_section_names(const ObjectBytes& obj) {
    const auto& b = obj.bytes;
    const auto shoff = elf_read<uint64_t>(b, 40);
    const auto shentsize = elf_read<uint16_t>(b, 58);
    const auto shnum = elf_read<uint16_t>(b, 60);
    const auto shstrndx = elf_read<uint16_t>(b, 62);
    const auto strtab_off = elf_read<uint64_t>(b, shoff + uint64_t(shstrndx) * shentsize + 24);
    std::vector<std::string> names;
    for (uint16_t i = 0; i < shnum; ++i) {
        const auto name_off = elf_read<uint32_t>(b, shoff + uint64_t(i) * shentsize);
        REQUIRE(strtab_off + name_off < b.size());
        names.emplace_back(reinterpret_cast<const char*>(b.data() + strtab_off + name_off));
    }
    return names;
}

// The contents of the first section called `name`, or nullopt.
inline std::optional<std::vector<uint8_t>> elf_section(const ObjectBytes& obj,
                                                       std::string_view name) {
    const auto& b = obj.bytes;
    const auto names = elf_section_names(obj);
    const auto shoff = elf_read<uint64_t>(b, 40);
    const auto shentsize = elf_read<uint16_t>(b, 58);
    for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] != name) {
            continue;
        }
        const uint64_t sh = shoff + i * shentsize;
        const auto off = elf_read<uint64_t>(b, sh + 24);
        const auto size = elf_read<uint64_t>(b, sh + 32);
        REQUIRE(off + size <= b.size());
        return std::vector<uint8_t>(b.begin() + long(off), b.begin() + long(off + size));
    }
    return std::nullopt;
}

// The .text section as instruction words.
inline std::vector<InsnWord> elf_text_words(const ObjectBytes& obj) {
    auto text = elf_section(obj, ".text");
    REQUIRE(text.has_value());
    REQUIRE(text->size() % 4 == 0);
    std::vector<InsnWord> words;
    for (size_t i = 0; i < text->size(); i += 4) {
        uint32_t w = 0;
        std::memcpy(&w, text->data() + i, 4);
        words.emplace_back(w);
    }
    return words;
}

} // namespace klpemu::test
