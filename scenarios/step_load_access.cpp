// See step_load_access.h. Field names are the Arm ARM's (size, V, opc, imm12, imm9, imm7, Rn).
#include "scenarios/step_load_access.h"

namespace klpemu::scenario {

namespace {

uint64_t bits(uint32_t w, int hi, int lo) {
    return (w >> lo) & ((1ULL << (hi - lo + 1)) - 1);
}

int64_t sign_extend(uint64_t v, int width) {
    const uint64_t m = 1ULL << (width - 1);
    return int64_t((v ^ m) - m);
}

// Size in bytes of a single-register load, or 0 if the (size, V, opc) combination is no load.
uint64_t single_load_size(uint32_t w) {
    const uint64_t size = bits(w, 31, 30);
    const bool v = bits(w, 26, 26) != 0;
    const uint64_t opc = bits(w, 23, 22);
    if (v) {
        if ((opc & 1) == 0) {
            return 0; // STR (SIMD&FP).
        }
        return size == 0 && (opc & 2) != 0 ? 16 : 1ULL << size;
    }
    if (opc == 0 || (size == 3 && opc >= 2)) {
        return 0; // STR, PRFM, unallocated.
    }
    return 1ULL << size;
}

} // namespace

std::optional<LoadAccess> load_access(GuestAddr pc, InsnWord word,
                                      const std::function<uint64_t(unsigned)>& x) {
    const uint32_t w = word.raw;
    const auto rn = unsigned(bits(w, 9, 5));
    if ((w & 0x3b000000) == 0x39000000) { // Unsigned immediate offset.
        const uint64_t size = single_load_size(w);
        if (size == 0) {
            return std::nullopt;
        }
        return LoadAccess{GuestAddr(x(rn) + bits(w, 21, 10) * size), size};
    }
    if ((w & 0x3b200000) == 0x38000000) { // Unscaled, post-, pre-indexed, unprivileged.
        const uint64_t size = single_load_size(w);
        if (size == 0) {
            return std::nullopt;
        }
        const bool post = bits(w, 11, 10) == 1;
        const int64_t imm = post ? 0 : sign_extend(bits(w, 20, 12), 9);
        return LoadAccess{GuestAddr(x(rn) + uint64_t(imm)), size};
    }
    if ((w & 0x3b200c00) == 0x38200800) { // Register offset.
        const uint64_t size = single_load_size(w);
        if (size == 0) {
            return std::nullopt;
        }
        const auto rm = unsigned(bits(w, 20, 16));
        uint64_t index = rm == 31 ? 0 : x(rm);
        switch (bits(w, 15, 13)) {
        case 2:
            index = uint32_t(index);
            break; // UXTW
        case 6:
            index = uint64_t(int64_t(int32_t(uint32_t(index))));
            break; // SXTW
        default:
            break; // LSL / SXTX
        }
        if (bits(w, 12, 12) != 0) {
            index <<= (size == 16 ? 4 : bits(w, 31, 30));
        }
        return LoadAccess{GuestAddr(x(rn) + index), size};
    }
    if ((w & 0x3b000000) == 0x18000000) { // LDR (literal).
        const uint64_t opc = bits(w, 31, 30);
        const bool v = bits(w, 26, 26) != 0;
        uint64_t size = 0;
        if (v) {
            size = opc == 0 ? 4 : opc == 1 ? 8 : opc == 2 ? 16 : 0;
        } else {
            size = opc == 1 ? 8 : opc == 3 ? 0 : 4;
        }
        if (size == 0) {
            return std::nullopt;
        }
        return LoadAccess{pc + sign_extend(bits(w, 23, 5), 19) * 4, size};
    }
    if ((w & 0x3a000000) == 0x28000000) { // Load/store pair (LDNP, LDP, LDPSW).
        if (bits(w, 22, 22) == 0) {
            return std::nullopt; // STP.
        }
        const uint64_t opc = bits(w, 31, 30);
        const bool v = bits(w, 26, 26) != 0;
        const uint64_t scale = v ? (4ULL << opc) : (opc == 2 ? 8 : 4);
        const bool post = bits(w, 24, 23) == 1;
        const int64_t imm = post ? 0 : sign_extend(bits(w, 21, 15), 7) * int64_t(scale);
        return LoadAccess{GuestAddr(x(rn) + uint64_t(imm)), 2 * scale};
    }
    if ((w & 0x3f000000) == 0x08000000) { // Exclusive, acquire/release, compare-and-swap.
        const bool load = bits(w, 22, 22) != 0;
        const bool cas = bits(w, 23, 23) != 0 && bits(w, 21, 21) != 0;
        if (!load && !cas) {
            return std::nullopt;
        }
        const uint64_t size = 1ULL << bits(w, 31, 30);
        const bool pair = bits(w, 23, 23) == 0 && bits(w, 21, 21) != 0;
        return LoadAccess{GuestAddr(x(rn)), pair ? 2 * size : size};
    }
    return std::nullopt;
}

} // namespace klpemu::scenario
