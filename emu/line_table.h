// Source lines of the loaded code: the rows of each object's DWARF line table (.debug_line, as
// `clang -g` emits it for a kernel built with CONFIG_DEBUG_INFO) with addresses where the loader
// placed them. The step debugger's `break FILE:LINE` resolves through it, as gdb resolves a
// linespec through the line table: the first address of each block of code the line owns.
// Pure data; emu/line_table_reader.cpp fills it with LLVM's DWARF reader.
#pragma once

#include "emu/guest_addr.h"
#include "emu/object_bytes.h"
#include "emu/result.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu {

struct LineRow {
    GuestAddr addr;
    std::string file; // As the compiler recorded it: the path it was given, made absolute.
    uint32_t line = 0;
    bool is_stmt = true; // A recommended breakpoint location (DWARF is_stmt).
    std::string object;  // The object it belongs to.
};

// One loaded object's line table, not read yet: what read_line_rows (emu/line_table_reader.h)
// needs. The loader keeps this instead of the rows because only the step debugger asks for
// lines; reading every object's DWARF at load was 2 % of a bundled-library run.
struct UnreadLineTable {
    ObjectBytes obj;
    std::vector<std::optional<GuestAddr>> placed; // Where ELF section i lives; nullopt: not placed.
    std::string object;
};

// Where `break FILE:LINE` stops: for each run of rows of `file` (matched by path suffix at a
// '/' boundary, so "vmlinux.c" and "livepatch/vmlinux.c" both name ".../livepatch/vmlinux.c")
// starting at `line`, its first address with is_stmt, ascending. Errors name the file and, when the
// file is known but the line owns no code, the nearest lines that do.
Result<std::vector<GuestAddr>> addresses_for_line(std::span<const LineRow> rows,
                                                  std::string_view file, uint32_t line);

} // namespace klpemu
