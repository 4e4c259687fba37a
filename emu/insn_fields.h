// Bit fields of A64 instruction words (Arm ARM C4.1 names them by bit range: Rn is [9:5], imm7
// is [21:15], ...): the two operations every decoder here needs, kept in one place.
#pragma once

#include <cstdint>

namespace klpemu::a64 {

// Bits [lo + bits - 1 : lo] of `w`. Contract: 0 < bits < 32, lo + bits <= 32.
constexpr uint32_t field(uint32_t w, unsigned lo, unsigned bits) {
    return (w >> lo) & ((1u << bits) - 1);
}

// The low `bits` bits of `value` as a two's-complement number. Contract: 0 < bits <= 64 and
// `value` has no bits set above them.
constexpr int64_t sign_extend(uint64_t value, unsigned bits) {
    const uint64_t sign = uint64_t(1) << (bits - 1);
    return int64_t((value ^ sign) - sign);
}

static_assert(sign_extend(0x7f, 7) == -1 && sign_extend(0x3f, 7) == 63);
static_assert(field(0xa9bf7bfdu, 15, 7) == 0x7e);

} // namespace klpemu::a64
