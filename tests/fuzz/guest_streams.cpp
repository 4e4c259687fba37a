// Word sources of the guest-execution fuzzer (see guest_streams.h).
#include "guest_streams.h"

#include <array>

namespace klpemu::fuzz {

namespace {

// Encodings arm64 kernel text is made of (register fields are randomised on use).
constexpr std::array<uint32_t, 24> kDictionary = {
    0xd503201f, // nop
    0xa9bf7bfd, // stp x29, x30, [sp, #-16]!
    0x910003fd, // mov x29, sp
    0xa8c17bfd, // ldp x29, x30, [sp], #16
    0xd65f03c0, // ret
    0x91000400, // add x0, x0, #1
    0xd1000400, // sub x0, x0, #1
    0xf9400000, // ldr x0, [x0]
    0xf9000000, // str x0, [x0]
    0xb4000040, // cbz x0, .+8
    0x54000040, // b.eq .+8
    0x14000002, // b .+8
    0xaa0103e0, // mov x0, x1
    0xd2800000, // mov x0, #0
    0xeb01001f, // cmp x0, x1
    0xd503233f, // paciasp
    0xd50323bf, // autiasp
    0xd503245f, // bti c
    0xf8200020, // ldadd x0, x0, [x1]
    0xc85f7c20, // ldxr x0, [x1]
    0xd5033fdf, // isb
    0xd5033bbf, // dmb ish
    0x4e208400, // add v0.16b, v0.16b, v0.16b
    0x1e602800, // fadd d0, d0, d0
};

// Decoder groups with asserting paths in QEMU 5.0's translate-a64.c: mask / fixed bits.
struct Group {
    uint32_t mask;
    uint32_t bits;
};
constexpr std::array<Group, 6> kRiskyGroups = {{
    {0x9f7e0c00, 0x0e780800}, // AdvSIMD two-reg misc FP16   0 Q U 01110 a 1111 00 op 10
    {0xdf7e0c00, 0x5e780800}, // AdvSIMD scalar two-reg misc FP16
    {0x9f60c400, 0x0e400400}, // AdvSIMD three same FP16     0 Q U 01110 a 10 Rm 00 op 1
    {0xdf60c400, 0x5e400400}, // AdvSIMD scalar three same FP16
    {0x9f000000, 0x0f000000}, // AdvSIMD vector x indexed element / shift by immediate
    {0x1f000000, 0x1e000000}, // scalar floating point (conversions, data processing)
}};

// Register fields (Rd, Rn, Rt2/Ra, Rm) take random values; the opcode bits stay.
uint32_t scramble_registers(Rng& rng, uint32_t w) {
    const uint32_t rd = uint32_t(rng.below(32)), rn = uint32_t(rng.below(32));
    switch (rng.below(3)) {
    case 0:
        return (w & ~0x3ffu) | (rn << 5) | rd;
    case 1:
        return (w & ~0x1fu) | rd;
    default:
        return w;
    }
}

} // namespace

uint32_t stream_word(Rng& rng, WordSource source) {
    switch (source) {
    case WordSource::Random:
        return uint32_t(rng.next());
    case WordSource::Dictionary:
        return scramble_registers(rng, kDictionary[rng.below(kDictionary.size())]);
    case WordSource::Mutated: {
        uint32_t w = kDictionary[rng.below(kDictionary.size())];
        const uint64_t flips = 1 + rng.below(3);
        for (uint64_t i = 0; i < flips; ++i) {
            w ^= 1u << rng.below(32);
        }
        return w;
    }
    case WordSource::RiskyGroup: {
        const Group& g = kRiskyGroups[rng.below(kRiskyGroups.size())];
        return (uint32_t(rng.next()) & ~g.mask) | g.bits;
    }
    }
    return 0;
}

std::vector<uint32_t> random_stream(Rng& rng, size_t length) {
    // Per stream mix: some streams are mostly valid code, some mostly noise.
    const unsigned random_pct = unsigned(rng.below(50));
    const unsigned risky_pct = unsigned(rng.below(30));
    const unsigned mutated_pct = unsigned(rng.below(30));
    std::vector<uint32_t> out;
    out.reserve(length);
    for (size_t i = 0; i < length; ++i) {
        const uint64_t r = rng.below(100);
        WordSource s = WordSource::Dictionary;
        if (r < random_pct) {
            s = WordSource::Random;
        } else if (r < random_pct + risky_pct) {
            s = WordSource::RiskyGroup;
        } else if (r < random_pct + risky_pct + mutated_pct) {
            s = WordSource::Mutated;
        }
        out.push_back(stream_word(rng, s));
    }
    return out;
}

} // namespace klpemu::fuzz
