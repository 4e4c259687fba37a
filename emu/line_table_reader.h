// Reads the DWARF line table (.debug_line) of one relocatable object with LLVM's DWARF reader,
// behind the loader's boundary: no LLVM type leaves emu/line_table_reader.cpp.
#pragma once

#include "emu/guest_addr.h"
#include "emu/line_table.h"
#include "emu/object_bytes.h"

#include <optional>
#include <vector>

namespace klpemu {

// Every row of `obj`'s line tables whose section was placed (`placed[i]`: where ELF section i
// lives; nullopt: not placed), named for `object`. Empty when the object carries no line table
// or it cannot be read: line information never fails a load.
std::vector<LineRow> read_line_rows(const ObjectBytes& obj,
                                    const std::vector<std::optional<GuestAddr>>& placed,
                                    const std::string& object);

} // namespace klpemu
