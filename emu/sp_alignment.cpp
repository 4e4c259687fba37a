// Classification of A64 words for the SP alignment check (see sp_alignment.h). Field names
// follow the Arm ARM: op0 selects the encoding group, Rn is bits [9:5].
#include "emu/sp_alignment.h"

#include "emu/insn_fields.h"

namespace klpemu::emu {

namespace {

using a64::sign_extend;

constexpr uint32_t rn(uint32_t w) { return (w >> 5) & 31; }
constexpr uint32_t rd(uint32_t w) { return w & 31; }

// op0 = x1x0: the loads and stores group.
constexpr bool is_load_store(uint32_t w) { return (w & 0x0a000000) == 0x08000000; }

// LDR (literal) and friends: op0 group, bits[29:27] = 011, bit 24 = 0; no base register.
constexpr bool is_load_literal(uint32_t w) { return (w & 0x3b000000) == 0x18000000; }

// ADD/SUB (immediate), 64-bit, flags not set: sf=1 op S=0 100010 sh imm12 Rn Rd.
constexpr bool is_add_sub_imm64(uint32_t w) {
    return (w & 0xff800000) == 0x91000000 || (w & 0xff800000) == 0xd1000000;
}

// LDP/STP (and SIMD pairs) with writeback: bits[29:27] = 101, bits[24:23] = 01 (post) or 11 (pre).
constexpr bool is_pair_writeback(uint32_t w) {
    return ((w >> 27) & 7) == 5 && (((w >> 23) & 3) == 1 || ((w >> 23) & 3) == 3);
}

// LDR/STR (immediate) pre/post-index: bits[29:27] = 111, [25:24] = 00, bit 21 = 0,
// bits[11:10] = 01 (post) or 11 (pre).
constexpr bool is_single_writeback(uint32_t w) {
    return ((w >> 27) & 7) == 7 && ((w >> 24) & 3) == 0 && ((w >> 21) & 1) == 0 &&
           (((w >> 10) & 3) == 1 || ((w >> 10) & 3) == 3);
}

// Byte offset a pair writeback adds: imm7 scaled by the access size (V selects SIMD sizes).
int64_t pair_offset(uint32_t w) {
    const uint32_t opc = w >> 30;
    const bool simd = (w >> 26) & 1;
    const int64_t scale = simd ? (int64_t(4) << opc) : (opc == 2 ? 8 : 4);
    return sign_extend((w >> 15) & 0x7f, 7) * scale;
}

// Whether an SP write is known to keep a 16-byte-aligned SP aligned.
bool keeps_sp_aligned(uint32_t w) {
    if (is_add_sub_imm64(w)) {
        const uint64_t imm = uint64_t((w >> 10) & 0xfff) << (((w >> 22) & 1) ? 12 : 0);
        return rd(w) == 31 && rn(w) == 31 && imm % 16 == 0;
    }
    if (is_pair_writeback(w)) {
        return rn(w) == 31 && pair_offset(w) % 16 == 0;
    }
    if (is_single_writeback(w)) {
        return rn(w) == 31 && sign_extend((w >> 12) & 0x1ff, 9) % 16 == 0;
    }
    return false;
}

} // namespace

uint8_t sp_alignment_flags(InsnWord word, bool writes_sp) {
    const uint32_t w = word.raw;
    uint8_t flags = 0;
    if (is_load_store(w) && !is_load_literal(w) && rn(w) == 31) {
        flags |= kSpMemAccess;
    }
    if (writes_sp && !keeps_sp_aligned(w)) {
        flags |= kSpMayMisalign;
    }
    return flags;
}

} // namespace klpemu::emu
