// A64 encoders and decoders for the instructions the patcher writes and inspects: ftrace call
// sites (NOP, MOV X9,X30, BL), module PLTs (ADRP/ADD/BR X16), ftrace trampolines, frame records
// (STP/LDP), host calls (HVC/BRK) and the CMODX rule of kernel-semantics.md §5. Pure functions,
// no LLVM: the patcher runs them on every text poke, and tests/differential/encoders_test.cpp
// proves each one equal to LLVM MC's encoding of the same text. Constants follow §11.
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"
#include "emu/result.h"

#include <cstdint>
#include <optional>

namespace klpemu::a64 {

// A general-purpose register number. 0..30 are x0..x30; 31 means SP or XZR depending on the
// field it is encoded in (the Arm ARM's "Rn = 31 is SP" vs "Rm = 31 is ZR").
using Reg = uint8_t;
inline constexpr Reg kX9 = 9;
inline constexpr Reg kX16 = 16; // IP0
inline constexpr Reg kX17 = 17; // IP1
inline constexpr Reg kFp = 29;
inline constexpr Reg kLr = 30;
inline constexpr Reg kSp = 31;
inline constexpr Reg kXzr = 31;

// Branch reach of B/BL: imm26 words, offset in [-128 MiB, +128 MiB).
inline constexpr int64_t kBranchMin = -(int64_t(1) << 27);
inline constexpr int64_t kBranchMax = (int64_t(1) << 27) - 4;
// ADRP reach: imm21 pages, page delta in [-4 GiB, +4 GiB).
inline constexpr int64_t kAdrpMinPages = -(int64_t(1) << 20);
inline constexpr int64_t kAdrpMaxPages = (int64_t(1) << 20) - 1;

// ---- encoders --------------------------------------------------------------------------------

// nop                                         d503201f
InsnWord nop();
// True iff `bl target` / `b target` placed at `pc` can encode the offset (and both are aligned).
bool reachable_by_bl(GuestAddr pc, GuestAddr target);
// bl target  (94000000 | imm26); error names from, to and how far out of range.
Result<InsnWord> bl(GuestAddr pc, GuestAddr target);
// b target   (14000000 | imm26); same range and errors as bl.
Result<InsnWord> b(GuestAddr pc, GuestAddr target);
// mov xd, xm  = orr xd, xzr, xm              aa0003e0 | Rm<<16 | Rd   (mov x9, x30 = aa1e03e9)
InsnWord mov_reg(Reg rd, Reg rm);
// mov xd, sp  = add xd, sp, #0                910003e0 | Rd            (mov x29, sp = 910003fd)
InsnWord mov_from_sp(Reg rd);
// mov sp, xn  = add sp, xn, #0                9100001f | Rn<<5
InsnWord mov_to_sp(Reg rn);
// adrp xd, target  (90000000 | immlo<<29 | immhi<<5 | Rd); page delta from pc & ~0xfff, ±4 GiB.
Result<InsnWord> adrp(Reg rd, GuestAddr pc, GuestAddr target);
// add xd|sp, xn|sp, #imm12{, lsl #12}        91000000 | sh<<22 | imm12<<10 | Rn<<5 | Rd
InsnWord add_imm(Reg rd, Reg rn, uint32_t imm12, bool shift12 = false);
// sub xd|sp, xn|sp, #imm12{, lsl #12}        d1000000 | sh<<22 | imm12<<10 | Rn<<5 | Rd
InsnWord sub_imm(Reg rd, Reg rn, uint32_t imm12, bool shift12 = false);
// movn xd, #imm16, lsl #shift (shift 0/16/32/48)   92800000 | hw<<21 | imm16<<5 | Rd
InsnWord movn(Reg rd, uint16_t imm16, unsigned shift);
// movk xd, #imm16, lsl #shift (shift 0/16/32/48)   f2800000 | hw<<21 | imm16<<5 | Rd
InsnWord movk(Reg rd, uint16_t imm16, unsigned shift);
// br xn                                       d61f0000 | Rn<<5         (br x16 = d61f0200)
InsnWord br(Reg rn);
// blr xn                                      d63f0000 | Rn<<5         (blr x4 = d63f0080)
InsnWord blr(Reg rn);
// ret {xn}                                    d65f0000 | Rn<<5         (ret = d65f03c0)
InsnWord ret(Reg rn = kLr);
// stp xt, xt2, [xn|sp, #imm]!                 a9800000 | imm7<<15 | Rt2<<10 | Rn<<5 | Rt
InsnWord stp_pre(Reg rt, Reg rt2, Reg rn, int32_t imm);
// stp xt, xt2, [xn|sp, #imm]                  a9000000 | ...
InsnWord stp_off(Reg rt, Reg rt2, Reg rn, int32_t imm);
// ldp xt, xt2, [xn|sp], #imm                  a8c00000 | ...
InsnWord ldp_post(Reg rt, Reg rt2, Reg rn, int32_t imm);
// ldp xt, xt2, [xn|sp, #imm]                  a9400000 | ...
InsnWord ldp_off(Reg rt, Reg rt2, Reg rn, int32_t imm);
// brk #imm16                                  d4200000 | imm16<<5      (#0x100 = d4202000)
InsnWord brk(uint16_t imm16);
// hvc #imm16                                  d4000002 | imm16<<5
InsnWord hvc(uint16_t imm16);
// svc #imm16                                  d4000001 | imm16<<5
InsnWord svc(uint16_t imm16);
// bti c                                       d503245f
InsnWord bti_c();
// paciasp                                     d503233f
InsnWord paciasp();
// autiasp                                     d50323bf
InsnWord autiasp();
// isb                                         d5033fdf
InsnWord isb();

// ---- decoders --------------------------------------------------------------------------------

// True iff `w` is exactly NOP (hint #0).
bool is_nop(InsnWord w);
// True iff `w` is BL imm26.
bool is_bl(InsnWord w);
// True iff `w` is B imm26 (not B.cond).
bool is_b(InsnWord w);
// True iff `w` is RET {Xn} (any register).
bool is_ret(InsnWord w);
// True iff `w` is BR Xn / BLR Xn.
bool is_br(InsnWord w);
bool is_blr(InsnWord w);
// True iff `w` is BTI with any target (c, j, jc or none).
bool is_bti(InsnWord w);
// The imm16 of HVC / BRK, or nullopt if `w` is not one.
std::optional<uint16_t> hvc_imm(InsnWord w);
// Inline: a per-instruction check (FtraceBrkCheck) calls it on every word executed.
inline std::optional<uint16_t> brk_imm(InsnWord w) {
    if ((w.raw & 0xffe0001f) != 0xd4200000) {
        return std::nullopt;
    }
    return uint16_t((w.raw >> 5) & 0xffff);
}
// Destination of B or BL at `pc`, or nullopt for any other instruction.
std::optional<GuestAddr> branch_target(GuestAddr pc, InsnWord w);
// The address a PC-relative instruction at `pc` names: B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ,
// ADR, ADRP (the 4 KiB page) and LDR/LDRSW/PRFM literal (incl. FP/SIMD); nullopt otherwise.
std::optional<GuestAddr> pc_relative_target(GuestAddr pc, InsnWord w);
// True iff `w` is ISB with any option: CRm = 0b1111 is SY, every other CRm is reserved and
// executes as ISB SY (Arm ARM C6.2, ISB), so all of them are context-synchronising.
bool is_isb(InsnWord w);
// True iff `w` is in the Arm ARM's concurrent-modification set: B, BL, NOP, BRK, SVC, HVC, SMC,
// ISB. Replacing one such word by another while a PE executes it is architecturally safe.
bool is_cmodx_safe(InsnWord w);

} // namespace klpemu::a64
