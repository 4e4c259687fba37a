// The arithmetic of arch/arm64/kernel/module.c, one relocation at a time. do_reloc() turns S + A
// into the value for an operation (ABS: S + A; PREL: S + A - P; PAGE: Page(S + A) - Page(P));
// reloc_data() stores it into 16/32/64 bits, reloc_insn_movw() into a MOVZ/MOVN/MOVK imm16
// (switching MOVZ/MOVN by sign for the signed forms), reloc_insn_imm() into any other immediate
// field. The erratum 843419 ADRP rewrite is not modelled: ADRP is always relocated as ADRP.
#include "emu/relocation.h"

#include <llvm/BinaryFormat/ELF.h>
#include <llvm/Object/ELF.h>

#include <cstring>

namespace klpemu {
namespace {

enum class RelocOp { None, Abs, Prel, Page };

// The immediate fields of aarch64_insn_encode_immediate.
enum class ImmField { Imm26, Imm19, Imm16, Imm14, Imm12, Adr };

enum class MovwKind {
    MovKZ, // Leave the opcode alone (MOVZ/MOVK as written).
    MovNZ, // Signed: make it MOVZ for values >= 0, MOVN (with inverted imm) for values < 0.
};

// Why a relocation helper failed; the caller decides whether overflow matters.
enum class Status { Ok, Overflow };

uint64_t do_reloc(RelocOp op, GuestAddr P, uint64_t val) {
    switch (op) {
    case RelocOp::Abs:
        return val;
    case RelocOp::Prel:
        return val - P.value;
    case RelocOp::Page:
        return (val & ~uint64_t(0xfff)) - (P.value & ~uint64_t(0xfff));
    case RelocOp::None:
        return 0;
    }
    KLP_UNREACHABLE("bad RelocOp");
}

uint32_t read32(std::span<uint8_t> place) {
    uint32_t v = 0;
    std::memcpy(&v, place.data(), 4);
    return v; // Host and guest are both little-endian (x86-64 / arm64 hosts).
}

template <typename T> void write_le(std::span<uint8_t> place, T v) {
    std::memcpy(place.data(), &v, sizeof(T));
}

uint32_t encode_immediate(ImmField field, uint32_t insn, uint64_t imm) {
    uint32_t mask = 0;
    uint32_t shift = 0;
    switch (field) {
    case ImmField::Imm26:
        mask = (1u << 26) - 1;
        shift = 0;
        break;
    case ImmField::Imm19:
        mask = (1u << 19) - 1;
        shift = 5;
        break;
    case ImmField::Imm16:
        mask = (1u << 16) - 1;
        shift = 5;
        break;
    case ImmField::Imm14:
        mask = (1u << 14) - 1;
        shift = 5;
        break;
    case ImmField::Imm12:
        mask = (1u << 12) - 1;
        shift = 10;
        break;
    case ImmField::Adr: {
        // immlo (2 bits) at 29, immhi (19 bits) at 5.
        const uint32_t immlo = uint32_t(imm) & 3;
        const uint32_t immhi = uint32_t(imm >> 2) & ((1u << 19) - 1);
        insn &= ~((3u << 29) | (((1u << 19) - 1) << 5));
        return insn | (immlo << 29) | (immhi << 5);
    }
    }
    insn &= ~(mask << shift);
    return insn | ((uint32_t(imm) & mask) << shift);
}

Status reloc_data(RelocOp op, std::span<uint8_t> place, GuestAddr P, uint64_t val, int len) {
    const int64_t sval = int64_t(do_reloc(op, P, val));
    switch (len) {
    case 16:
        write_le(place, int16_t(sval));
        if (op == RelocOp::Abs) {
            return (sval < 0 || sval > int64_t(UINT16_MAX)) ? Status::Overflow : Status::Ok;
        }
        return (sval < INT16_MIN || sval > INT16_MAX) ? Status::Overflow : Status::Ok;
    case 32:
        write_le(place, int32_t(sval));
        if (op == RelocOp::Abs) {
            return (sval < 0 || sval > int64_t(UINT32_MAX)) ? Status::Overflow : Status::Ok;
        }
        return (sval < INT32_MIN || sval > INT32_MAX) ? Status::Overflow : Status::Ok;
    case 64:
        write_le(place, sval);
        return Status::Ok;
    }
    KLP_UNREACHABLE("bad data relocation length {}", len);
}

Status reloc_insn_movw(RelocOp op, std::span<uint8_t> place, GuestAddr P, uint64_t val, int lsb,
                       MovwKind kind) {
    uint32_t insn = read32(place);
    const int64_t sval = int64_t(do_reloc(op, P, val));
    uint64_t imm = uint64_t(sval >> lsb); // Arithmetic shift, as on the kernel's s64.
    if (kind == MovwKind::MovNZ) {
        insn &= ~(3u << 29);
        if (sval >= 0) {
            insn |= 2u << 29; // MOVZ
        } else {
            imm = ~imm; // MOVN (opcode 00) writes the inverted immediate.
        }
    }
    insn = encode_immediate(ImmField::Imm16, insn, imm);
    write_le(place, insn);
    return imm > UINT16_MAX ? Status::Overflow : Status::Ok;
}

Status reloc_insn_imm(RelocOp op, std::span<uint8_t> place, GuestAddr P, uint64_t val, int lsb,
                      int len, ImmField field) {
    uint32_t insn = read32(place);
    int64_t sval = int64_t(do_reloc(op, P, val));
    sval >>= lsb;
    const uint64_t imm_mask = ((uint64_t(1) << (lsb + len)) - 1) >> lsb;
    const uint64_t imm = uint64_t(sval) & imm_mask;
    insn = encode_immediate(field, insn, imm);
    write_le(place, insn);
    // The bits above the field, including its sign bit, must all equal the sign.
    sval = int64_t(uint64_t(sval) & ~(imm_mask >> 1)) >> (len - 1);
    return uint64_t(sval + 1) >= 2 ? Status::Overflow : Status::Ok;
}

// What apply_relocate_add does for one type: the helper to call and whether overflow counts.
Result<Status> dispatch(uint32_t type, std::span<uint8_t> place, GuestAddr P, uint64_t val,
                        bool& overflow_check) {
    overflow_check = true;
    using R = RelocType;
    switch (R(type)) {
    case R::None:
    case R::NoneLegacy:
        return Status::Ok;
    case R::Abs64:
        overflow_check = false;
        return reloc_data(RelocOp::Abs, place, P, val, 64);
    case R::Abs32:
        return reloc_data(RelocOp::Abs, place, P, val, 32);
    case R::Abs16:
        return reloc_data(RelocOp::Abs, place, P, val, 16);
    case R::Prel64:
        overflow_check = false;
        return reloc_data(RelocOp::Prel, place, P, val, 64);
    case R::Prel32:
        return reloc_data(RelocOp::Prel, place, P, val, 32);
    case R::Prel16:
        return reloc_data(RelocOp::Prel, place, P, val, 16);
    case R::MovwUabsG0Nc:
        overflow_check = false;
        [[fallthrough]];
    case R::MovwUabsG0:
        return reloc_insn_movw(RelocOp::Abs, place, P, val, 0, MovwKind::MovKZ);
    case R::MovwUabsG1Nc:
        overflow_check = false;
        [[fallthrough]];
    case R::MovwUabsG1:
        return reloc_insn_movw(RelocOp::Abs, place, P, val, 16, MovwKind::MovKZ);
    case R::MovwUabsG2Nc:
        overflow_check = false;
        [[fallthrough]];
    case R::MovwUabsG2:
        return reloc_insn_movw(RelocOp::Abs, place, P, val, 32, MovwKind::MovKZ);
    case R::MovwUabsG3:
        overflow_check = false; // The top 16 bits cannot overflow.
        return reloc_insn_movw(RelocOp::Abs, place, P, val, 48, MovwKind::MovKZ);
    case R::MovwSabsG0:
        return reloc_insn_movw(RelocOp::Abs, place, P, val, 0, MovwKind::MovNZ);
    case R::MovwSabsG1:
        return reloc_insn_movw(RelocOp::Abs, place, P, val, 16, MovwKind::MovNZ);
    case R::MovwSabsG2:
        return reloc_insn_movw(RelocOp::Abs, place, P, val, 32, MovwKind::MovNZ);
    case R::MovwPrelG0Nc:
        overflow_check = false;
        return reloc_insn_movw(RelocOp::Prel, place, P, val, 0, MovwKind::MovKZ);
    case R::MovwPrelG0:
        return reloc_insn_movw(RelocOp::Prel, place, P, val, 0, MovwKind::MovNZ);
    case R::MovwPrelG1Nc:
        overflow_check = false;
        return reloc_insn_movw(RelocOp::Prel, place, P, val, 16, MovwKind::MovKZ);
    case R::MovwPrelG1:
        return reloc_insn_movw(RelocOp::Prel, place, P, val, 16, MovwKind::MovNZ);
    case R::MovwPrelG2Nc:
        overflow_check = false;
        return reloc_insn_movw(RelocOp::Prel, place, P, val, 32, MovwKind::MovKZ);
    case R::MovwPrelG2:
        return reloc_insn_movw(RelocOp::Prel, place, P, val, 32, MovwKind::MovNZ);
    case R::MovwPrelG3:
        overflow_check = false;
        return reloc_insn_movw(RelocOp::Prel, place, P, val, 48, MovwKind::MovNZ);
    case R::LdPrelLo19:
        return reloc_insn_imm(RelocOp::Prel, place, P, val, 2, 19, ImmField::Imm19);
    case R::AdrPrelLo21:
        return reloc_insn_imm(RelocOp::Prel, place, P, val, 0, 21, ImmField::Adr);
    case R::AdrPrelPgHi21Nc:
        overflow_check = false;
        [[fallthrough]];
    case R::AdrPrelPgHi21:
        return reloc_insn_imm(RelocOp::Page, place, P, val, 12, 21, ImmField::Adr);
    case R::AddAbsLo12Nc:
    case R::Ldst8AbsLo12Nc:
        overflow_check = false;
        return reloc_insn_imm(RelocOp::Abs, place, P, val, 0, 12, ImmField::Imm12);
    case R::Ldst16AbsLo12Nc:
        overflow_check = false;
        return reloc_insn_imm(RelocOp::Abs, place, P, val, 1, 11, ImmField::Imm12);
    case R::Ldst32AbsLo12Nc:
        overflow_check = false;
        return reloc_insn_imm(RelocOp::Abs, place, P, val, 2, 10, ImmField::Imm12);
    case R::Ldst64AbsLo12Nc:
        overflow_check = false;
        return reloc_insn_imm(RelocOp::Abs, place, P, val, 3, 9, ImmField::Imm12);
    case R::Ldst128AbsLo12Nc:
        overflow_check = false;
        return reloc_insn_imm(RelocOp::Abs, place, P, val, 4, 8, ImmField::Imm12);
    case R::Tstbr14:
        return reloc_insn_imm(RelocOp::Prel, place, P, val, 2, 14, ImmField::Imm14);
    case R::Condbr19:
        return reloc_insn_imm(RelocOp::Prel, place, P, val, 2, 19, ImmField::Imm19);
    case R::Jump26:
    case R::Call26:
        return reloc_insn_imm(RelocOp::Prel, place, P, val, 2, 26, ImmField::Imm26);
    }
    return make_error("unsupported relocation type {} ({})", type, relocation_name(type));
}

} // namespace

std::string relocation_name(uint32_t type) {
    if (type == uint32_t(RelocType::NoneLegacy)) {
        return "R_AARCH64_NONE";
    }
    const auto name = llvm::object::getELFRelocationTypeName(llvm::ELF::EM_AARCH64, type);
    return name.str();
}

bool is_supported_relocation(uint32_t type) {
    return relocation_width(type) != 0 || type == uint32_t(RelocType::None) ||
           type == uint32_t(RelocType::NoneLegacy);
}

uint32_t relocation_width(uint32_t type) {
    using R = RelocType;
    switch (R(type)) {
    case R::None:
    case R::NoneLegacy:
        return 0;
    case R::Abs64:
    case R::Prel64:
        return 8;
    case R::Abs16:
    case R::Prel16:
        return 2;
    case R::Abs32:
    case R::Prel32:
    case R::MovwUabsG0:
    case R::MovwUabsG0Nc:
    case R::MovwUabsG1:
    case R::MovwUabsG1Nc:
    case R::MovwUabsG2:
    case R::MovwUabsG2Nc:
    case R::MovwUabsG3:
    case R::MovwSabsG0:
    case R::MovwSabsG1:
    case R::MovwSabsG2:
    case R::MovwPrelG0:
    case R::MovwPrelG0Nc:
    case R::MovwPrelG1:
    case R::MovwPrelG1Nc:
    case R::MovwPrelG2:
    case R::MovwPrelG2Nc:
    case R::MovwPrelG3:
    case R::LdPrelLo19:
    case R::AdrPrelLo21:
    case R::AdrPrelPgHi21:
    case R::AdrPrelPgHi21Nc:
    case R::AddAbsLo12Nc:
    case R::Ldst8AbsLo12Nc:
    case R::Ldst16AbsLo12Nc:
    case R::Ldst32AbsLo12Nc:
    case R::Ldst64AbsLo12Nc:
    case R::Ldst128AbsLo12Nc:
    case R::Tstbr14:
    case R::Condbr19:
    case R::Jump26:
    case R::Call26:
        return 4;
    }
    return 0;
}

Result<void> apply_relocation(uint32_t type, std::span<uint8_t> place, const RelocValues& v) {
    if (!is_supported_relocation(type)) {
        return make_error("unsupported relocation type {} ({})", type, relocation_name(type));
    }
    KLP_CHECK(place.size() >= relocation_width(type), "place of {} bytes for {}", place.size(),
              relocation_name(type));
    // val is S + A in the ABI's words (sym->st_value + r_addend in the kernel's).
    const uint64_t val = v.S + uint64_t(v.A);
    bool overflow_check = true;
    KLP_TRY_ASSIGN(status, dispatch(type, place, v.P, val, overflow_check));
    if (overflow_check && status == Status::Overflow) {
        return make_error("{} overflow: S + A = {:#x} does not fit at P = {}", relocation_name(type),
                          val, v.P);
    }
    return {};
}

} // namespace klpemu
