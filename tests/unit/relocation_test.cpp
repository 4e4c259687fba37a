// apply_relocation against hand-computed encodings and the kernel's overflow edges: PREL16/32
// signed, ABS16/32 unsigned, _NC forms never checked, B/BL reach [-128 MiB, +128 MiB).
#include "emu/relocation.h"

#include <doctest/doctest.h>

#include <array>
#include <cstring>

using namespace klpemu;

namespace {

struct Place {
    std::array<uint8_t, 8> bytes{};
    explicit Place(uint64_t initial = 0) { std::memcpy(bytes.data(), &initial, 8); }
    uint32_t word() const {
        uint32_t w;
        std::memcpy(&w, bytes.data(), 4);
        return w;
    }
    uint64_t u64() const {
        uint64_t v;
        std::memcpy(&v, bytes.data(), 8);
        return v;
    }
};

constexpr GuestAddr kP(0xffff800008001000);

Result<void> apply(RelocType t, Place& p, uint64_t S, int64_t A = 0, GuestAddr P = kP) {
    return apply_relocation(uint32_t(t), p.bytes, RelocValues{S, A, P});
}

} // namespace

TEST_CASE("relocation: data relocations and their overflow rules") {
    Place p;
    CHECK(apply(RelocType::Abs64, p, 0xffff880000cccccc).ok());
    CHECK(p.u64() == 0xffff880000cccccc);

    Place a32;
    CHECK(apply(RelocType::Abs32, a32, 0xffffffff).ok());
    CHECK(a32.word() == 0xffffffff);
    CHECK_FALSE(apply(RelocType::Abs32, a32, 0x100000000).ok());
    CHECK_FALSE(apply(RelocType::Abs32, a32, uint64_t(-1)).ok()); // Negative: unsigned rule.

    Place a16;
    CHECK(apply(RelocType::Abs16, a16, 0xffff).ok());
    CHECK_FALSE(apply(RelocType::Abs16, a16, 0x10000).ok());

    Place p32;
    CHECK(apply(RelocType::Prel32, p32, kP.value + 0x7fffffff).ok());
    CHECK(p32.word() == 0x7fffffff);
    CHECK(apply(RelocType::Prel32, p32, kP.value - 0x80000000).ok());
    CHECK(p32.word() == 0x80000000);
    auto over = apply(RelocType::Prel32, p32, kP.value + 0x80000000);
    REQUIRE_FALSE(over.ok());
    CHECK(over.error().message.find("R_AARCH64_PREL32") != std::string::npos);

    Place p16;
    CHECK(apply(RelocType::Prel16, p16, kP.value, -0x8000).ok());
    CHECK_FALSE(apply(RelocType::Prel16, p16, kP.value, 0x8000).ok());

    Place p64;
    CHECK(apply(RelocType::Prel64, p64, 0, 0).ok()); // Never checked.
    CHECK(p64.u64() == uint64_t(0) - kP.value);
}

TEST_CASE("relocation: MOVW groups, signed forms flip MOVZ/MOVN") {
    const uint32_t movz_x0 = 0xd2800000, movk_x0 = 0xf2800000;
    Place g3(movz_x0 | (3u << 21));
    CHECK(apply(RelocType::MovwUabsG3, g3, 0xffff880000cccccc).ok());
    CHECK(g3.word() == (movz_x0 | (3u << 21) | (0xffffu << 5)));

    Place g0(movk_x0);
    CHECK(apply(RelocType::MovwUabsG0Nc, g0, 0x123456789abcdef0).ok());
    CHECK(g0.word() == (movk_x0 | (0xdef0u << 5)));
    CHECK_FALSE(apply(RelocType::MovwUabsG0, g0, 0x10000).ok());
    CHECK(apply(RelocType::MovwUabsG1, g0, 0xffffffff).ok());
    CHECK_FALSE(apply(RelocType::MovwUabsG2, g0, 0x1000000000000).ok());

    // SABS_G2 of a negative value becomes MOVN with the inverted immediate.
    Place s2(movz_x0 | (2u << 21));
    CHECK(apply(RelocType::MovwSabsG2, s2, 0xffff880000cccccc).ok());
    CHECK(s2.word() == (0x92800000u | (2u << 21) | (0x77ffu << 5)));
    // ... and a non-negative one becomes MOVZ again.
    CHECK(apply(RelocType::MovwSabsG2, s2, 0x0000123400000000).ok());
    CHECK(s2.word() == (movz_x0 | (2u << 21) | (0x1234u << 5)));
    CHECK_FALSE(apply(RelocType::MovwSabsG0, s2, 0x10000).ok());

    Place pg0(movz_x0);
    CHECK(apply(RelocType::MovwPrelG0, pg0, kP.value - 4).ok());
    CHECK(pg0.word() == (0x92800000u | (3u << 5))); // movn x0, #3 == -4
    CHECK(apply(RelocType::MovwPrelG3, pg0, 0).ok());
}

TEST_CASE("relocation: immediate fields and their reach") {
    const uint32_t bl = 0x94000000, b_cond = 0x54000000, tbz = 0x36000000, ldr_lit = 0x58000000;
    Place call(bl);
    CHECK(apply(RelocType::Call26, call, kP.value + 0x7fffffc).ok());
    CHECK(call.word() == 0x95ffffff); // bl .+0x7fffffc
    CHECK(apply(RelocType::Call26, call, kP.value - 0x8000000).ok());
    CHECK(call.word() == 0x96000000); // bl .-0x8000000
    CHECK_FALSE(apply(RelocType::Call26, call, kP.value + 0x8000000).ok());
    CHECK_FALSE(apply(RelocType::Jump26, call, kP.value - 0x8000004).ok());
    CHECK(reachable_by_branch26(kP, kP + 0x7fffffc));
    CHECK_FALSE(reachable_by_branch26(kP, kP + 0x8000000));

    Place cond(b_cond);
    CHECK(apply(RelocType::Condbr19, cond, kP.value + 0xffffc).ok());
    CHECK(cond.word() == (b_cond | (0x3ffffu << 5)));
    CHECK_FALSE(apply(RelocType::Condbr19, cond, kP.value + 0x100000).ok());

    Place tb(tbz);
    CHECK(apply(RelocType::Tstbr14, tb, kP.value - 0x8000).ok());
    CHECK(tb.word() == (tbz | (0x2000u << 5)));
    CHECK_FALSE(apply(RelocType::Tstbr14, tb, kP.value + 0x8000).ok());

    Place lit(ldr_lit);
    CHECK(apply(RelocType::LdPrelLo19, lit, kP.value + 8).ok());
    CHECK(lit.word() == (ldr_lit | (2u << 5)));

    Place adr(0x10000000);
    CHECK(apply(RelocType::AdrPrelLo21, adr, kP.value + 0xfffff).ok());
    CHECK(adr.word() == (0x10000000u | (3u << 29) | (0x3ffffu << 5)));
    CHECK_FALSE(apply(RelocType::AdrPrelLo21, adr, kP.value + 0x100000).ok());

    Place adrp(0x90000000);
    CHECK(apply(RelocType::AdrPrelPgHi21, adrp, kP.value + 0x12345678).ok());
    const uint64_t pages = ((kP.value + 0x12345678) >> 12) - (kP.value >> 12);
    CHECK(adrp.word() == (0x90000000u | uint32_t((pages & 3) << 29) |
                          uint32_t(((pages >> 2) & 0x7ffff) << 5)));
    CHECK_FALSE(apply(RelocType::AdrPrelPgHi21, adrp, kP.value + (uint64_t(1) << 32)).ok());
    CHECK(apply(RelocType::AdrPrelPgHi21Nc, adrp, kP.value + (uint64_t(1) << 32)).ok());

    Place add(0x91000000);
    CHECK(apply(RelocType::AddAbsLo12Nc, add, 0xffff800008123abc).ok());
    CHECK(add.word() == (0x91000000u | (0xabcu << 10)));
    Place ldst64(0xf9400000);
    CHECK(apply(RelocType::Ldst64AbsLo12Nc, ldst64, 0xffff800008123ab8).ok());
    CHECK(ldst64.word() == (0xf9400000u | ((0xab8u >> 3) << 10)));
    Place ldst16(0x79400000);
    CHECK(apply(RelocType::Ldst16AbsLo12Nc, ldst16, 0x0abe).ok());
    CHECK(ldst16.word() == (0x79400000u | ((0xabeu >> 1) << 10)));
    Place ldst128(0x3dc00000);
    CHECK(apply(RelocType::Ldst128AbsLo12Nc, ldst128, 0x0ab0).ok());
    CHECK(ldst128.word() == (0x3dc00000u | ((0xab0u >> 4) << 10)));
}

TEST_CASE("relocation: unsupported types are named") {
    Place p;
    auto r = apply_relocation(552, p.bytes, RelocValues{0, 0, kP}); // A TLS local-exec type.
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("552") != std::string::npos);
    CHECK(r.error().message.find(relocation_name(552)) != std::string::npos);
    CHECK(relocation_name(283) == "R_AARCH64_CALL26");
    CHECK(relocation_name(256) == "R_AARCH64_NONE");
    CHECK(apply_relocation(256, p.bytes, RelocValues{1, 2, kP}).ok());
}
