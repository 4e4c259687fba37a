// A symbol file for gdb: the machine's symbols written as a minimal ELF64 AArch64 executable
// (no contents, only SHT_NOBITS sections over the guest memory regions and a symbol table), so
// `symbol-file FILE` lets gdb break on `leaf` and print `leaf+4`. The code itself is read from
// the target through `m` packets, so what gdb disassembles is the live, patched text.
#pragma once

#include "emu/result.h"

#include <filesystem>

namespace klpemu::emu {
class Machine;
}

namespace klpemu::tools {

// Writes the function and object symbols the machine knows now.
Result<void> write_gdb_symbol_file(const emu::Machine& machine, const std::filesystem::path& path);

} // namespace klpemu::tools
