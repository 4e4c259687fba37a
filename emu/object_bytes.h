// ObjectBytes: one ELF64 relocatable AArch64 object held in memory, as the assembler or a C
// compiler produced it or as read from a .o file. Every piece of guest code enters klpemu this
// way (design.md §3 "Images"), so the loader sees exactly what the kernel's module loader sees.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace klpemu {

struct ObjectBytes {
    std::string name;           // Display name used in messages: usually the source file name.
    std::vector<uint8_t> bytes; // The complete ELF file.
};

} // namespace klpemu
