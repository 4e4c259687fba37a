// Bit-level A64 encoders and decoders for the patcher (see insn_encoding.h). Field names follow
// the Arm ARM (imm26, imm19, immhi/immlo, Rn, Rt2). Argument misuse by klpemu's own code
// (register > 31, unaligned or oversized immediate) is a KLP_CHECK; guest-dependent failures
// (a branch that cannot reach) are Result errors with the numbers a kernel developer needs.
#include "emu/insn_encoding.h"

#include "emu/insn_fields.h"

namespace klpemu::a64 {

namespace {

constexpr uint32_t kNop = 0xd503201f;

uint32_t reg(Reg r) {
    KLP_CHECK(r <= 31, "register number {} out of range", r);
    return r;
}

std::string signed_hex(int64_t v) {
    return v < 0 ? fmt::format("-{:#x}", uint64_t(0) - uint64_t(v)) : fmt::format("+{:#x}", v);
}

Result<InsnWord> branch_imm26(uint32_t opcode, const char* name, GuestAddr pc, GuestAddr target) {
    if (!pc.is_aligned(4) || !target.is_aligned(4)) {
        return make_error("error: {} from {} to {}: both addresses must be 4-byte aligned", name,
                          pc, target);
    }
    const int64_t off = target - pc;
    if (off < kBranchMin || off > kBranchMax) {
        const int64_t by = off < kBranchMin ? kBranchMin - off : off - kBranchMax;
        return make_error("error: {} from {} to {}: offset {} is out of range by {:#x} "
                          "(reach is [-0x8000000, +0x7fffffc])",
                          name, pc, target, signed_hex(off), by);
    }
    return InsnWord(opcode | (uint32_t(off >> 2) & 0x03ffffff));
}

uint32_t imm12_field(uint32_t imm12, bool shift12) {
    KLP_CHECK(imm12 <= 0xfff, "add/sub immediate {:#x} does not fit imm12", imm12);
    return (shift12 ? 1u << 22 : 0u) | (imm12 << 10);
}

InsnWord pair(uint32_t opcode, Reg rt, Reg rt2, Reg rn, int32_t imm) {
    KLP_CHECK(imm % 8 == 0 && imm >= -512 && imm <= 504,
              "ldp/stp offset {} is not a multiple of 8 in [-512, 504]", imm);
    const uint32_t imm7 = uint32_t(imm / 8) & 0x7f;
    return InsnWord(opcode | imm7 << 15 | reg(rt2) << 10 | reg(rn) << 5 | reg(rt));
}

} // namespace

InsnWord nop() { return InsnWord(kNop); }

bool reachable_by_bl(GuestAddr pc, GuestAddr target) {
    const int64_t off = target - pc;
    return pc.is_aligned(4) && target.is_aligned(4) && off >= kBranchMin && off <= kBranchMax;
}

Result<InsnWord> bl(GuestAddr pc, GuestAddr target) {
    return branch_imm26(0x94000000, "bl", pc, target);
}

Result<InsnWord> b(GuestAddr pc, GuestAddr target) {
    return branch_imm26(0x14000000, "b", pc, target);
}

InsnWord mov_reg(Reg rd, Reg rm) { return InsnWord(0xaa0003e0 | reg(rm) << 16 | reg(rd)); }

InsnWord mov_from_sp(Reg rd) { return InsnWord(0x910003e0 | reg(rd)); }

InsnWord mov_to_sp(Reg rn) { return InsnWord(0x9100001f | reg(rn) << 5); }

Result<InsnWord> adrp(Reg rd, GuestAddr pc, GuestAddr target) {
    const int64_t pages = int64_t(target.align_down(4096).value - pc.align_down(4096).value) >> 12;
    if (pages < kAdrpMinPages || pages > kAdrpMaxPages) {
        return make_error("error: adrp from {} to {}: page delta {} pages is out of range "
                          "(reach is +-4 GiB)",
                          pc, target, signed_hex(pages));
    }
    const uint32_t imm = uint32_t(pages) & 0x1fffff;
    return InsnWord(0x90000000 | (imm & 3) << 29 | (imm >> 2) << 5 | reg(rd));
}

InsnWord add_imm(Reg rd, Reg rn, uint32_t imm12, bool shift12) {
    return InsnWord(0x91000000 | imm12_field(imm12, shift12) | reg(rn) << 5 | reg(rd));
}

InsnWord sub_imm(Reg rd, Reg rn, uint32_t imm12, bool shift12) {
    return InsnWord(0xd1000000 | imm12_field(imm12, shift12) | reg(rn) << 5 | reg(rd));
}

namespace {
InsnWord move_wide(uint32_t opcode, Reg rd, uint16_t imm16, unsigned shift) {
    KLP_CHECK(shift % 16 == 0 && shift <= 48, "move-wide shift {} is not 0, 16, 32 or 48", shift);
    return InsnWord(opcode | uint32_t(shift / 16) << 21 | uint32_t(imm16) << 5 | reg(rd));
}
} // namespace

InsnWord movn(Reg rd, uint16_t imm16, unsigned shift) {
    return move_wide(0x92800000, rd, imm16, shift);
}
InsnWord movk(Reg rd, uint16_t imm16, unsigned shift) {
    return move_wide(0xf2800000, rd, imm16, shift);
}

InsnWord br(Reg rn) { return InsnWord(0xd61f0000 | reg(rn) << 5); }
InsnWord blr(Reg rn) { return InsnWord(0xd63f0000 | reg(rn) << 5); }
InsnWord ret(Reg rn) { return InsnWord(0xd65f0000 | reg(rn) << 5); }

InsnWord stp_pre(Reg rt, Reg rt2, Reg rn, int32_t imm) { return pair(0xa9800000, rt, rt2, rn, imm); }
InsnWord stp_off(Reg rt, Reg rt2, Reg rn, int32_t imm) { return pair(0xa9000000, rt, rt2, rn, imm); }
InsnWord ldp_post(Reg rt, Reg rt2, Reg rn, int32_t imm) { return pair(0xa8c00000, rt, rt2, rn, imm); }
InsnWord ldp_off(Reg rt, Reg rt2, Reg rn, int32_t imm) { return pair(0xa9400000, rt, rt2, rn, imm); }

InsnWord brk(uint16_t imm16) { return InsnWord(0xd4200000 | uint32_t(imm16) << 5); }
InsnWord hvc(uint16_t imm16) { return InsnWord(0xd4000002 | uint32_t(imm16) << 5); }
InsnWord svc(uint16_t imm16) { return InsnWord(0xd4000001 | uint32_t(imm16) << 5); }
InsnWord bti_c() { return InsnWord(0xd503245f); }
InsnWord paciasp() { return InsnWord(0xd503233f); }
InsnWord autiasp() { return InsnWord(0xd50323bf); }
InsnWord isb() { return InsnWord(0xd5033fdf); }

bool is_nop(InsnWord w) { return w.raw == kNop; }
bool is_bl(InsnWord w) { return (w.raw & 0xfc000000) == 0x94000000; }
bool is_b(InsnWord w) { return (w.raw & 0xfc000000) == 0x14000000; }
bool is_ret(InsnWord w) { return (w.raw & 0xfffffc1f) == 0xd65f0000; }
bool is_br(InsnWord w) { return (w.raw & 0xfffffc1f) == 0xd61f0000; }
bool is_blr(InsnWord w) { return (w.raw & 0xfffffc1f) == 0xd63f0000; }
bool is_bti(InsnWord w) { return (w.raw & 0xffffff3f) == 0xd503241f; }

std::optional<uint16_t> hvc_imm(InsnWord w) {
    if ((w.raw & 0xffe0001f) != 0xd4000002) {
        return std::nullopt;
    }
    return uint16_t((w.raw >> 5) & 0xffff);
}

std::optional<GuestAddr> branch_target(GuestAddr pc, InsnWord w) {
    if (!is_b(w) && !is_bl(w)) {
        return std::nullopt;
    }
    return pc + sign_extend(w.raw & 0x03ffffff, 26) * 4;
}

std::optional<GuestAddr> pc_relative_target(GuestAddr pc, InsnWord w) {
    const uint32_t x = w.raw;
    if (auto t = branch_target(pc, w)) {
        return t;
    }
    const int64_t imm19 = sign_extend((x >> 5) & 0x7ffff, 19) * 4;
    if ((x & 0xff000010) == 0x54000000) { // B.cond
        return pc + imm19;
    }
    if ((x & 0x7e000000) == 0x34000000) { // CBZ / CBNZ
        return pc + imm19;
    }
    if ((x & 0x3b000000) == 0x18000000) { // LDR (literal), LDRSW, PRFM, FP/SIMD literal
        return pc + imm19;
    }
    if ((x & 0x7e000000) == 0x36000000) { // TBZ / TBNZ
        return pc + sign_extend((x >> 5) & 0x3fff, 14) * 4;
    }
    const uint64_t immhilo = ((x >> 5) & 0x7ffff) << 2 | ((x >> 29) & 3);
    if ((x & 0x9f000000) == 0x10000000) { // ADR
        return pc + sign_extend(immhilo, 21);
    }
    if ((x & 0x9f000000) == 0x90000000) { // ADRP
        return pc.align_down(4096) + sign_extend(immhilo, 21) * 4096;
    }
    return std::nullopt;
}

bool is_isb(InsnWord w) {
    return (w.raw & 0xfffff0ff) == 0xd50330df;
}

bool is_cmodx_safe(InsnWord w) {
    const uint32_t x = w.raw;
    const bool exception_gen = (x & 0xffe0001f) == 0xd4200000   // BRK
                               || (x & 0xffe0001f) == 0xd4000001 // SVC
                               || (x & 0xffe0001f) == 0xd4000002 // HVC
                               || (x & 0xffe0001f) == 0xd4000003; // SMC
    const bool isb_any = (x & 0xfffff0ff) == 0xd50330df;        // ISB {option}
    return is_b(w) || is_bl(w) || is_nop(w) || exception_gen || isb_any;
}

} // namespace klpemu::a64
