// The call frame information the assembler and the compiler emitted (.eh_frame / .debug_frame,
// the input the kernel's proposed SFrame unwinder would be built from), flattened into a plain
// table: for every PC range, where the CFA is (a register plus an offset) and where the frame
// pointer (x29) and the return address (x30) of the caller are. LLVM's DWARFDebugFrame runs
// the CFI programs; nothing LLVM leaks out of this header.
//
//   caller's SP  = CFA = (sp | x29) + cfa_offset
//   caller's x29 = fp rule:  [CFA + off] | same value | undefined
//   return addr  = ra rule:  [CFA + off] | same value (still in x30) | undefined (outermost)
#pragma once

#include "emu/guest_addr.h"
#include "emu/image.h"
#include "emu/result.h"

#include <cstdint>
#include <span>
#include <vector>

namespace klpemu {

enum class CfiRuleKind {
    SameValue, // The register still holds the caller's value (also DWARF "unspecified").
    Undefined, // Not recoverable; for the return address: the outermost frame.
    AtCfa,     // Saved at [CFA + offset].
    Other,     // Anything else (expressions, other registers): not supported by the unwinder.
};

struct CfiRule {
    CfiRuleKind kind = CfiRuleKind::SameValue;
    int64_t offset = 0; // For AtCfa.
    constexpr auto operator<=>(const CfiRule&) const = default;
};

enum class CfaBase { Sp, Fp, Other };

// One row: the rules that hold for every PC in `pcs`.
struct CfiRow {
    GuestRange pcs;
    CfaBase cfa_base = CfaBase::Sp;
    int64_t cfa_offset = 0;
    CfiRule fp; // x29
    CfiRule ra; // x30, the return address column
    constexpr auto operator<=>(const CfiRow&) const = default;
};

class CfiTable {
  public:
    // Parses one relocated CFI section and adds its rows.
    Result<void> add_section(const CfiSection& section);
    // Adds rows directly (tests, hand-written unwind info).
    void add_rows(std::span<const CfiRow> rows);
    // Drops every row overlapping `range` (a module was unloaded).
    void remove_range(GuestRange range);

    // The row covering `pc`, or nullptr where no CFI describes it.
    const CfiRow* find(GuestAddr pc) const;
    std::span<const CfiRow> rows() const { return m_rows; }

  private:
    void sort();
    std::vector<CfiRow> m_rows; // Sorted by pcs.begin, non-overlapping per FDE.
};

} // namespace klpemu
