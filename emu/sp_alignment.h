// SP alignment checking, which QEMU (and so Unicorn) deliberately omits for speed. On arm64 with
// SCTLR_EL1.SA set, as Linux configures it, a load or store whose base register is SP faults when
// SP is not 16-byte aligned; a kernel takes that as a fatal exception. The machine reproduces it
// cheaply: each instruction is classified once per address (cached with its cycle cost), SP is
// read only after an instruction that may leave it misaligned, and the fault is raised only
// while SP is known to be misaligned.
#pragma once

#include "emu/insn_word.h"

#include <cstdint>

namespace klpemu::emu {

enum SpAlignmentFlags : uint8_t {
    kSpMemAccess = 1 << 0,   // A load/store/prefetch whose base register is SP.
    kSpMayMisalign = 1 << 1, // Writes SP other than by adding a multiple of 16 to SP.
};

// The SpAlignmentFlags of `w`; `writes_sp` says whether the instruction writes SP at all (from
// the cycle model's register masks, so the two views of the word never disagree).
uint8_t sp_alignment_flags(InsnWord w, bool writes_sp);

} // namespace klpemu::emu
