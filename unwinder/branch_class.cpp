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

BranchClass classify(GuestAddr pc, InsnWord word) {
    BranchClass c;
    const uint32_t w = word.raw;
    if (a64::is_bl(word)) {
        c.kind = BranchKind::Call;
        c.target = a64::branch_target(pc, word);
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
