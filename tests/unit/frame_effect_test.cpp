// frame_effect: the exact effect on sp/x29/x30 the per-step checker applies to its copy of the
// registers instead of reading them back. Words from llvm-mc (-show-encoding); each effect is
// also checked against the CPU at every boundary of the library by the full-walk run of the
// differential test.
#include "unwinder/frame_effect.h"
#include "unwinder/stack_view.h"

#include <doctest/doctest.h>

#include <map>

using namespace klpemu;
using namespace klpemu::unwinder;

namespace {

FrameEffect fx(uint32_t word) {
    return frame_effect(InsnWord(word));
}

class Words final : public MemoryReader {
  public:
    std::map<uint64_t, uint64_t> words;
    std::optional<uint64_t> read_u64(GuestAddr addr) const override {
        auto it = words.find(addr.value);
        return it == words.end() ? std::nullopt : std::optional(it->second);
    }
};

constexpr GuestAddr kPc(0xffff800010001000ull);
const emu::FrameRegs kBefore{0xffff800011003f00ull, 0xffff800011003f40ull, 0xffff800010000abcull};

emu::FrameRegs after(uint32_t word, const MemoryReader& memory) {
    auto r = apply_frame_effect(fx(word), kPc, kBefore, memory);
    REQUIRE(r.has_value());
    return *r;
}

} // namespace

TEST_CASE("frame effect: calls set x30 to the next instruction") {
    const Words none;
    CHECK(fx(0x94000002u).op == FrameOp::Link); // bl .+8
    CHECK(fx(0xd63f0060u).op == FrameOp::Link); // blr x3
    const auto r = after(0x94000002u, none);
    CHECK(r.lr == (kPc + 4).value);
    CHECK(r.sp == kBefore.sp);
    CHECK(r.fp == kBefore.fp);
}

TEST_CASE("frame effect: ADD/SUB (immediate) between sp and x29") {
    CHECK(fx(0x910003fdu) == FrameEffect{FrameOp::FpFromSp, 0, 0});   // mov x29, sp
    CHECK(fx(0x910043fdu) == FrameEffect{FrameOp::FpFromSp, 16, 0});  // add x29, sp, #16
    CHECK(fx(0xd10103ffu) == FrameEffect{FrameOp::SpAdd, -64, 0});    // sub sp, sp, #64
    CHECK(fx(0x914007ffu) == FrameEffect{FrameOp::SpAdd, 4096, 0});   // add sp, sp, #1, lsl #12
    CHECK(fx(0x910003bfu) == FrameEffect{FrameOp::SpFromFp, 0, 0});   // mov sp, x29
    CHECK(fx(0xd10043bfu) == FrameEffect{FrameOp::SpFromFp, -16, 0}); // sub sp, x29, #16
    CHECK(fx(0x910023f3u).op == FrameOp::None);                      // add x19, sp, #8
    CHECK(fx(0xaa0003fdu).op == FrameOp::Unknown);                   // mov x29, x0
    const Words none;
    CHECK(after(0xd10103ffu, none).sp == kBefore.sp - 64);
    CHECK(after(0x910043fdu, none).fp == kBefore.sp + 16);
    CHECK(after(0xd10043bfu, none).sp == kBefore.fp - 16);
}

TEST_CASE("frame effect: pushes and pops through sp with writeback") {
    CHECK(fx(0xa9be7bfdu) == FrameEffect{FrameOp::SpAdd, -32, 0}); // stp x29, x30, [sp, #-32]!
    CHECK(fx(0xa9bf53f3u) == FrameEffect{FrameOp::SpAdd, -16, 0}); // stp x19, x20, [sp, #-16]!
    CHECK(fx(0xa8c153f3u) == FrameEffect{FrameOp::SpAdd, 16, 0});  // ldp x19, x20, [sp], #16
    CHECK(fx(0xf81f0ffeu) == FrameEffect{FrameOp::SpAdd, -16, 0}); // str x30, [sp, #-16]!
    CHECK(fx(0xf84107f3u) == FrameEffect{FrameOp::SpAdd, 16, 0});  // ldr x19, [sp], #16
    CHECK(fx(0xadbf07e0u) == FrameEffect{FrameOp::SpAdd, -32, 0}); // stp q0, q1, [sp, #-32]!
    CHECK(fx(0xf84107feu).op == FrameOp::Unknown);                 // ldr x30, [sp], #16
    CHECK(fx(0x28c17bfdu).op == FrameOp::Unknown);                 // ldp w29, w30, [sp], #8
}

TEST_CASE("frame effect: LDP x29, x30 from the stack, every addressing form") {
    CHECK(fx(0xa8c27bfdu) == FrameEffect{FrameOp::LoadFpLr, 32, 0});  // ldp x29, x30, [sp], #32
    CHECK(fx(0xa9c17bfdu) == FrameEffect{FrameOp::LoadFpLr, 16, 16}); // ldp x29, x30, [sp, #16]!
    CHECK(fx(0xa9417bfdu) == FrameEffect{FrameOp::LoadFpLr, 0, 16});  // ldp x29, x30, [sp, #16]
    CHECK(fx(0xa940781du).op == FrameOp::Unknown);                    // ldp x29, x30, [x0]
    Words m;
    m.words[kBefore.sp] = 0x1111;
    m.words[kBefore.sp + 8] = 0x2222;
    m.words[kBefore.sp + 16] = 0x3333;
    m.words[kBefore.sp + 24] = 0x4444;
    const auto post = after(0xa8c27bfdu, m);
    CHECK(post == emu::FrameRegs{kBefore.sp + 32, 0x1111, 0x2222});
    const auto pre = after(0xa9c17bfdu, m);
    CHECK(pre == emu::FrameRegs{kBefore.sp + 16, 0x3333, 0x4444});
    const auto offset = after(0xa9417bfdu, m);
    CHECK(offset == emu::FrameRegs{kBefore.sp, 0x3333, 0x4444});
    const Words none;
    CHECK_FALSE(apply_frame_effect(fx(0xa8c27bfdu), kPc, kBefore, none).has_value());
}

TEST_CASE("frame effect: what it does not model is read back") {
    const Words none;
    CHECK(fx(0xd503233fu).op == FrameOp::Unknown); // paciasp
    CHECK(fx(0xd503201fu).op == FrameOp::None);    // nop
    CHECK_FALSE(apply_frame_effect(fx(0xd503233fu), kPc, kBefore, none).has_value());
}
