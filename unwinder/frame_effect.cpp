// See frame_effect.h. Encodings (Arm ARM C4.1):
//   ADD/SUB (immediate), 64-bit, no flags   sf=1 op S=0 100010 sh imm12 Rn Rd   (w & bf800000) == 91000000
//   load/store pair                          opc 101 V 0 mode(24:23) L imm7 Rt2 Rn Rt
//   load/store register, pre/post-index      size 111 V 00 opc 0 imm9 mode(11:10) Rn Rt
#include "unwinder/frame_effect.h"

#include "emu/check.h"
#include "emu/insn_fields.h"
#include "unwinder/branch_class.h"
#include "unwinder/stack_view.h"

namespace klpemu::unwinder {

namespace {

constexpr uint32_t kSp = 31;

using a64::field;
using a64::sign_extend;

FrameEffect effect(FrameOp op, int64_t delta = 0, int64_t offset = 0) {
    return FrameEffect{op, delta, offset};
}

// ADD/SUB (immediate), 64-bit, not setting flags: Rd/Rn 31 are sp.
std::optional<FrameEffect> add_sub_immediate(uint32_t w) {
    if ((w & 0xbf800000u) != 0x91000000u) {
        return std::nullopt;
    }
    int64_t imm = int64_t(field(w, 10, 12)) << (field(w, 22, 1) ? 12 : 0);
    if (field(w, 30, 1)) {
        imm = -imm;
    }
    const uint32_t rd = field(w, 0, 5), rn = field(w, 5, 5);
    if (rd == kSp && rn == kSp) {
        return effect(FrameOp::SpAdd, imm);
    }
    if (rd == 29 && rn == kSp) {
        return effect(FrameOp::FpFromSp, imm);
    }
    if (rd == kSp && rn == 29) {
        return effect(FrameOp::SpFromFp, imm);
    }
    return std::nullopt;
}

// Load/store pair with sp as the base (STGP and unallocated sizes left out).
std::optional<FrameEffect> pair(uint32_t w) {
    if ((w & 0x3a000000u) != 0x28000000u || field(w, 5, 5) != kSp) {
        return std::nullopt;
    }
    const bool simd = field(w, 26, 1) != 0;
    const bool load = field(w, 22, 1) != 0;
    const uint32_t opc = field(w, 30, 2);
    int scale = 0;
    if (simd) {
        scale = opc == 0 ? 4 : opc == 1 ? 8 : opc == 2 ? 16 : 0;
    } else {
        scale = opc == 0 ? 4 : opc == 2 ? 8 : (opc == 1 && load) ? 4 : 0; // opc 01: LDPSW.
    }
    if (scale == 0) {
        return std::nullopt;
    }
    const uint32_t mode = field(w, 23, 2); // 01 post-index, 11 pre-index, 10 offset, 00 no-alloc.
    const bool writeback = mode == 1 || mode == 3;
    const int64_t imm = sign_extend(field(w, 15, 7), 7) * scale;
    const uint32_t rt = field(w, 0, 5), rt2 = field(w, 10, 5);
    const bool loads_frame = load && !simd && (rt >= 29 || rt2 >= 29);
    if (!loads_frame) {
        return writeback ? std::optional(effect(FrameOp::SpAdd, imm)) : std::nullopt;
    }
    if (opc == 2 && rt == 29 && rt2 == 30) {
        return effect(FrameOp::LoadFpLr, writeback ? imm : 0, mode == 1 ? 0 : imm);
    }
    return std::nullopt;
}

// Load/store register (immediate, pre-/post-index) with sp as the base, loading no x29/x30.
std::optional<FrameEffect> single_writeback(uint32_t w) {
    if ((w & 0x3b200000u) != 0x38000000u || field(w, 5, 5) != kSp) {
        return std::nullopt;
    }
    const uint32_t mode = field(w, 10, 2);
    if (mode != 1 && mode != 3) {
        return std::nullopt;
    }
    const bool simd = field(w, 26, 1) != 0;
    const bool store = field(w, 22, 2) == 0 || (simd && field(w, 22, 2) == 2);
    if (!simd && !store && field(w, 0, 5) >= 29) {
        return std::nullopt; // Loads x29 or x30 (or is unallocated with Rt 31).
    }
    return effect(FrameOp::SpAdd, sign_extend(field(w, 12, 9), 9));
}

} // namespace

FrameEffect frame_effect(InsnWord word) {
    if (!may_write_frame_regs(word)) {
        return effect(FrameOp::None);
    }
    const uint32_t w = word.raw;
    if ((w & 0xfc000000u) == 0x94000000u || (w & 0xfffffc1fu) == 0xd63f0000u) {
        return effect(FrameOp::Link); // BL, BLR.
    }
    for (auto decode : {add_sub_immediate, pair, single_writeback}) {
        if (auto e = decode(w)) {
            return *e;
        }
    }
    return effect(FrameOp::Unknown);
}

std::optional<emu::FrameRegs> apply_load_fp_lr(const FrameEffect& e, const emu::FrameRegs& before,
                                               const MemoryReader& memory) {
    KLP_CHECK(e.op == FrameOp::LoadFpLr);
    const GuestAddr at(before.sp + uint64_t(e.offset));
    const auto fp = memory.read_u64(at);
    const auto lr = memory.read_u64(at + 8);
    if (!fp || !lr) {
        return std::nullopt;
    }
    return emu::FrameRegs{before.sp + uint64_t(e.delta), *fp, *lr};
}

} // namespace klpemu::unwinder
