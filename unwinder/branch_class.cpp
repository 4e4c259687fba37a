// See branch_class.h. Encodings (Arm ARM C4.1):
//   bl    100101 imm26            94000000    b     000101 imm26      14000000
//   blr   1101011 0001 11111 000000 Rn 00000  d63f0000
//   br    1101011 0000 11111 000000 Rn 00000  d61f0000
//   ret   1101011 0010 11111 000000 Rn 00000  d65f0000
//   retaa d65f0bff   retab d65f0fff   (return through x30 with PAC)
//   blraa/blrab/braa/... (0xfe9ff000 mask variants) take Rn from bits 9:5 as well.
// Loads and stores are op0 x1x0 (bit 27 set, bit 25 clear); a store is recognised by its L bit.
#include "unwinder/branch_class.h"

#include "emu/insn_encoding.h"
#include "emu/insn_fields.h"

namespace klpemu::unwinder {

namespace {

bool is_load_store(uint32_t w) {
    return (w & 0x0a000000u) == 0x08000000u;
}

// Conservative: true unless the encoding is certainly a pure load.
bool load_store_may_write(uint32_t w) {
    const uint32_t op0 = (w >> 28) & 0xf;
    if ((w & 0x3b000000u) == 0x18000000u) {
        return false; // LDR (literal) / PRFM (literal).
    }
    if ((op0 & 0x3) == 0x2) {
        // Load/store pair (and no-allocate pair): L is bit 22.
        return (w & (1u << 22)) == 0;
    }
    if ((op0 & 0x3) == 0x3) {
        // Load/store register (all addressing forms) and atomics.
        const bool atomic = (w & 0x3b200c00u) == 0x38200000u;
        if (atomic) {
            return true; // LDADD/SWP/CAS... write memory.
        }
        const uint32_t opc = (w >> 22) & 0x3;
        const bool simd = (w & (1u << 26)) != 0;
        // STR*: opc 00; SIMD&FP STR Qt is opc 10. Other opc values are loads (and PRFM).
        return opc == 0 || (simd && opc == 2);
    }
    // Exclusives, ordered, SIMD structure and everything else: assume a write.
    return true;
}

bool is_trap(uint32_t w) {
    // Exception generation: svc/hvc/smc/brk/hlt (11010100 ...).
    return (w & 0xff000000u) == 0xd4000000u;
}

bool is_dc_zva(uint32_t w) {
    return (w & 0xffffffe0u) == 0xd50b7420u;
}

} // namespace

namespace {

bool frame_reg(uint32_t r) {
    return r >= 29; // x29, x30, and 31 (sp where the encoding means sp).
}

using a64::field;
using a64::sign_extend;

// Load/store encodings: the registers they may write (Rt/Rt2 of loads, Rs status/compare
// registers, the base on writeback).
bool load_store_writes_frame(uint32_t w) {
    const uint32_t rt = field(w, 0, 5), rn = field(w, 5, 5), rt2 = field(w, 10, 5);
    const bool simd = (w & (1u << 26)) != 0;
    if ((w & 0x3a000000u) == 0x28000000u) {
        // Pairs: bits 24:23 01 post-index, 11 pre-index write the base back.
        const uint32_t mode = field(w, 23, 2);
        const bool load = (w & (1u << 22)) != 0;
        const bool writeback = mode == 1 || mode == 3;
        return (writeback && frame_reg(rn)) || (load && !simd && (frame_reg(rt) || frame_reg(rt2)));
    }
    if ((w & 0x3b000000u) == 0x39000000u) {
        // Single register, unsigned offset: no writeback.
        const bool store = field(w, 22, 2) == 0 || (simd && field(w, 22, 2) == 2);
        return !store && !simd && frame_reg(rt);
    }
    if ((w & 0x3b000000u) == 0x38000000u) {
        const bool store = field(w, 22, 2) == 0 || (simd && field(w, 22, 2) == 2);
        const bool writes_rt = !simd && !store;
        if ((w & (1u << 21)) == 0) {
            // Unscaled (00), post-index (01), unprivileged (10), pre-index (11).
            const uint32_t mode = field(w, 10, 2);
            const bool writeback = mode == 1 || mode == 3;
            return (writeback && frame_reg(rn)) || (writes_rt && frame_reg(rt));
        }
        if (field(w, 10, 2) == 2) {
            return writes_rt && frame_reg(rt); // Register offset.
        }
        // Atomics (write Rt), LDRAA/LDRAB (Rt, and the base when bit 11 is set).
        return frame_reg(rt) || ((w & (1u << 11)) != 0 && frame_reg(rn));
    }
    if ((w & 0x3b000000u) == 0x18000000u) {
        return !simd && frame_reg(rt); // LDR (literal).
    }
    if ((w & 0xbe000000u) == 0x0c000000u) {
        // SIMD structures: only vector registers, and the base on post-index (bit 23).
        return (w & (1u << 23)) != 0 && frame_reg(rn);
    }
    // Exclusives, ordered, LDAPR/STLUR, tags: any register field may be written.
    return frame_reg(rt) || frame_reg(rn) || frame_reg(rt2) || frame_reg(field(w, 16, 5));
}

} // namespace

bool may_write_frame_regs(InsnWord word) {
    const uint32_t w = word.raw;
    const uint32_t rd = field(w, 0, 5);
    const uint32_t op0 = field(w, 25, 4); // Bits 28:25: the top-level encoding group.
    if ((op0 & 0x5) == 0x4) {
        return load_store_writes_frame(w); // x1x0: loads and stores.
    }
    if ((op0 & 0xe) == 0x8) {
        // 100x data processing (immediate). Rd = 31 is sp for ADD/SUB (not ADDS/SUBS) and the
        // logical ops except ANDS; xzr elsewhere.
        const bool add_sub = (w & 0x1f000000u) == 0x11000000u;
        const bool logical = (w & 0x1f800000u) == 0x12000000u;
        const bool sets_flags = (w & (1u << 29)) != 0;
        const bool sp_dest = (add_sub && !sets_flags) || (logical && field(w, 29, 2) != 3);
        return rd == 29 || rd == 30 || (rd == 31 && sp_dest);
    }
    if ((op0 & 0x7) == 0x5) {
        // x101 data processing (register): only ADD/SUB (extended register) may target sp.
        const bool sp_dest = (w & 0x1f200000u) == 0x0b200000u && (w & (1u << 29)) == 0;
        return rd == 29 || rd == 30 || (rd == 31 && sp_dest);
    }
    if ((op0 & 0x7) == 0x7) {
        return rd == 29 || rd == 30; // x111 SIMD&FP: only moves to general registers.
    }
    if ((op0 & 0xe) == 0xa) {
        // 101x branches, exception generation, system.
        if (a64::is_b(word) || (w & 0xff000010u) == 0x54000000u || (w & 0x7e000000u) == 0x34000000u ||
            (w & 0x7e000000u) == 0x36000000u) {
            return false; // B, B.cond, CBZ/CBNZ, TBZ/TBNZ.
        }
        if ((w & 0xfffffc1fu) == 0xd61f0000u || (w & 0xfffffc1fu) == 0xd65f0000u) {
            return false; // BR, RET.
        }
        if ((w & 0xfffff01fu) == 0xd503201fu) {
            // Hints: PACIASP/AUTIASP & co. (CRm 0011) and XPACLRI sign or strip x30.
            const uint32_t crm = field(w, 8, 4), op2 = field(w, 5, 3);
            return crm == 3 || (crm == 0 && op2 == 7);
        }
        if ((w & 0xfffff01fu) == 0xd503301fu) {
            return false; // Barriers (DSB, DMB, ISB, CLREX, SB).
        }
        if ((w & 0xfff8f01fu) == 0xd500401fu) {
            return field(w, 16, 3) == 0 && field(w, 5, 3) == 5; // MSR SPSel, #imm.
        }
        if ((w & 0xfff80000u) == 0xd5080000u) {
            return false; // SYS (DC, IC, TLBI, AT): no register result.
        }
        if ((w & 0xfff00000u) == 0xd5300000u || (w & 0xfff80000u) == 0xd5280000u) {
            return rd == 29 || rd == 30; // MRS, SYSL.
        }
        if ((w & 0xffe0001fu) == 0xd4000002u) {
            // HVC: klpemu's host call. What the host writes is counted by the machine
            // (Machine::frame_register_writes: a task switch, a handler setting x29/x30/sp);
            // the instruction itself leaves them alone.
            return false;
        }
        return true; // BL, BLR, ERET, MSR (register), other traps, the rest: assume so.
    }
    return true; // SVE, SME, unallocated.
}

StoreAccess store_access(InsnWord word) {
    const uint32_t w = word.raw;
    StoreAccess a;
    if (!is_load_store(w)) {
        if (is_dc_zva(w)) {
            a.mode = StoreMode::Unknown;
        }
        return a;
    }
    if (!load_store_may_write(w)) {
        return a;
    }
    a.rn = uint8_t(field(w, 5, 5));
    const bool simd = (w & (1u << 26)) != 0;
    if ((w & 0x3a000000u) == 0x28000000u) {
        // Pairs: imm7 scaled by the element size; V=1 opc 00/01/10 = S/D/Q, V=0 W/X (STGP: 16).
        const uint32_t opc = field(w, 30, 2);
        const int64_t scale = simd ? (4 << opc) : (opc == 2 ? 8 : (opc == 1 ? 16 : 4));
        a.size = uint8_t(2 * scale);
        const uint32_t mode = field(w, 23, 2);
        if (mode == 1) {
            a.mode = StoreMode::Base;
        } else {
            a.mode = StoreMode::Offset;
            a.imm = sign_extend(field(w, 15, 7), 7) * scale;
        }
        return a;
    }
    const uint32_t size_bits = field(w, 30, 2);
    const uint8_t bytes = uint8_t(simd && (w & (1u << 23)) != 0 ? 16 : 1u << size_bits);
    if ((w & 0x3b000000u) == 0x39000000u) {
        a.mode = StoreMode::Offset;
        a.size = bytes;
        a.imm = int64_t(field(w, 10, 12)) * bytes;
        return a;
    }
    if ((w & 0x3b200000u) == 0x38000000u) {
        a.size = bytes;
        if (field(w, 10, 2) == 1) {
            a.mode = StoreMode::Base; // Post-index.
        } else {
            a.mode = StoreMode::Offset; // Unscaled, unprivileged, pre-index.
            a.imm = sign_extend(field(w, 12, 9), 9);
        }
        return a;
    }
    if ((w & 0x3b200c00u) == 0x38200800u) {
        a.mode = StoreMode::RegOffset;
        a.size = bytes;
        a.rm = uint8_t(field(w, 16, 5));
        a.option = uint8_t(field(w, 13, 3));
        a.shift = uint8_t((w & (1u << 12)) != 0 ? __builtin_ctz(bytes) : 0);
        return a;
    }
    if ((w & 0x3b200c00u) == 0x38200000u || (w & 0x3f000000u) == 0x08000000u) {
        a.mode = StoreMode::Base; // Atomics, exclusives, ordered: [Xn], pairs up to 16 bytes.
        a.size = 16;
        return a;
    }
    if ((w & 0xbe000000u) == 0x0c000000u) {
        a.mode = StoreMode::Base; // SIMD structures: up to four Q registers.
        a.size = 64;
        return a;
    }
    if ((w & 0x3f200c00u) == 0x19000000u) {
        a.mode = StoreMode::Offset; // STLUR.
        a.size = 8;
        a.imm = sign_extend(field(w, 12, 9), 9);
        return a;
    }
    a.mode = StoreMode::Unknown;
    return a;
}

BranchClass classify(GuestAddr pc, InsnWord word) {
    BranchClass c;
    const uint32_t w = word.raw;
    c.frame = frame_effect(word);
    if (a64::is_bl(word)) {
        c.target = a64::branch_target(pc, word);
        // `bl .+4` only sets x30: nothing returns to it. It is the get-PC idiom and what a
        // static link makes of a call to an undefined weak function (docs/toolchain.md).
        c.kind = c.target == pc + 4 ? BranchKind::None : BranchKind::Call;
        return c;
    }
    if (a64::is_b(word)) {
        c.kind = BranchKind::Jump;
        c.target = a64::branch_target(pc, word);
        return c;
    }
    if (w == 0xd65f0bffu || w == 0xd65f0fffu) {
        c.kind = BranchKind::Ret; // retaa / retab
        c.rn = 30;
        return c;
    }
    if ((w & 0xfe000000u) == 0xd6000000u) {
        // Unconditional branch (register): opc in bits 24:21, Rn in 9:5 (incl. PAC forms).
        const uint32_t opc = (w >> 21) & 0xf;
        const uint32_t op2 = (w >> 16) & 0x1f;
        if (op2 == 0x1f) {
            c.rn = uint8_t((w >> 5) & 0x1f);
            switch (opc) {
            case 0x0:
            case 0x8:
                c.kind = BranchKind::Jump;
                return c; // br, braa/brab(z)
            case 0x1:
            case 0x9:
                c.kind = BranchKind::Call;
                return c; // blr, blraa/blrab(z)
            case 0x2:
                c.kind = BranchKind::Ret;
                return c; // ret
            default:
                break;
            }
        }
    }
    c.is_eret = w == 0xd69f03e0u;
    c.may_write_memory =
        (is_load_store(w) && load_store_may_write(w)) || is_trap(w) || is_dc_zva(w);
    c.store = store_access(word);
    if (c.may_write_memory && c.store.mode == StoreMode::None) {
        c.store.mode = StoreMode::Unknown; // Traps: the host may write anything.
    }
    return c;
}

const BranchClass& BranchClassCache::get(GuestAddr pc, InsnWord word) {
    auto [it, inserted] = m_cache.try_emplace(pc);
    if (inserted || it->second.word != word) {
        it->second = Entry{word, classify(pc, word)};
    }
    return it->second.cls;
}

} // namespace klpemu::unwinder
