// AArch64 static relocations applied the way the kernel's module loader applies them
// (arch/arm64/kernel/module.c: apply_relocate_add with reloc_data, reloc_insn_movw,
// reloc_insn_imm and the ADRP path). The math uses the ELF ABI's letters: S (symbol value),
// A (addend), P (place). Overflow rules are the kernel's, not the psABI's: PREL16/32 are checked
// as signed, ABS16/32 as unsigned, and the _NC / G3 forms are never checked. These functions
// are pure: they rewrite bytes in a host buffer that stands for the place.
#pragma once

#include "emu/guest_addr.h"
#include "emu/result.h"

#include <cstdint>
#include <span>
#include <string>

namespace klpemu {

// The relocation types apply_relocate_add supports, numbered as in the AArch64 ELF ABI.
enum class RelocType : uint32_t {
    None = 0,       // R_AARCH64_NONE (the kernel also spells it R_ARM_NONE)
    NoneLegacy = 256, // The kernel's elf.h value of R_AARCH64_NONE; also a null relocation.
    Abs64 = 257,
    Abs32 = 258,
    Abs16 = 259,
    Prel64 = 260,
    Prel32 = 261,
    Prel16 = 262,
    MovwUabsG0 = 263,
    MovwUabsG0Nc = 264,
    MovwUabsG1 = 265,
    MovwUabsG1Nc = 266,
    MovwUabsG2 = 267,
    MovwUabsG2Nc = 268,
    MovwUabsG3 = 269,
    MovwSabsG0 = 270,
    MovwSabsG1 = 271,
    MovwSabsG2 = 272,
    LdPrelLo19 = 273,
    AdrPrelLo21 = 274,
    AdrPrelPgHi21 = 275,
    AdrPrelPgHi21Nc = 276,
    AddAbsLo12Nc = 277,
    Ldst8AbsLo12Nc = 278,
    Tstbr14 = 279,
    Condbr19 = 280,
    Jump26 = 282,
    Call26 = 283,
    Ldst16AbsLo12Nc = 284,
    Ldst32AbsLo12Nc = 285,
    Ldst64AbsLo12Nc = 286,
    MovwPrelG0 = 287,
    MovwPrelG0Nc = 288,
    MovwPrelG1 = 289,
    MovwPrelG1Nc = 290,
    MovwPrelG2 = 291,
    MovwPrelG2Nc = 292,
    MovwPrelG3 = 293,
    Ldst128AbsLo12Nc = 299,
};

// The inputs of one relocation, in the ABI's letters.
struct RelocValues {
    uint64_t S = 0;  // Symbol value (its guest address).
    int64_t A = 0;   // Addend.
    GuestAddr P;     // The place: guest address of the bytes being patched.
};

// The ABI name of relocation `type` ("R_AARCH64_CALL26"), or "unknown" for unassigned numbers.
std::string relocation_name(uint32_t type);

// Whether apply_relocate_add handles `type`.
bool is_supported_relocation(uint32_t type);

// How many bytes at the place `type` reads and writes (2, 4 or 8; 0 for NONE).
uint32_t relocation_width(uint32_t type);

// Applies relocation `type` to `place` (which must hold relocation_width(type) bytes) exactly as
// apply_relocate_add does. Errors: unsupported type ("unsupported relocation type 283
// (R_AARCH64_...)"), or overflow ("R_AARCH64_PREL32: value 0x... does not fit"). On overflow the
// truncated value has still been written, as in the kernel.
Result<void> apply_relocation(uint32_t type, std::span<uint8_t> place, const RelocValues& v);

// B/BL reach, as reachable_by_bl / aarch64_insn_gen_branch_imm test it: [-128 MiB, +128 MiB).
inline constexpr int64_t kBranch26Reach = int64_t(1) << 27;
constexpr bool reachable_by_branch26(GuestAddr from, GuestAddr to) {
    const int64_t off = to - from;
    return off >= -kBranch26Reach && off < kBranch26Reach;
}

} // namespace klpemu
