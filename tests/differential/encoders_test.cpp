// Our A64 encoders (emu/insn_encoding) against LLVM MC: each encoder's word must equal what the
// assembler emits for the same text, including the branch-range edges of kernel-semantics.md
// §11, and the decoders must agree with the encoders and with LLVM's reading of the words.
#include "emu/insn_encoding.h"

#include "support/asm_words.h"

#include <doctest/doctest.h>

#include <string>

using namespace klpemu;
namespace a64 = klpemu::a64;

namespace {

constexpr GuestAddr kBase{0xffff800008000000};

InsnWord llvm_word(const std::string& text) {
    const auto words = test::assemble_words(text + "\n");
    REQUIRE(words.size() == 1);
    return words[0];
}

// `prefix .+off` assembled at offset 0, i.e. at kBase.
std::string dot(int64_t off) {
    return off < 0 ? fmt::format(".-{:#x}", -off) : fmt::format(".+{:#x}", off);
}

} // namespace

TEST_CASE("encoders: fixed words equal LLVM's encoding") {
    struct Case {
        const char* text;
        InsnWord ours;
    };
    const Case cases[] = {
        {"nop", a64::nop()},
        {"mov x9, x30", a64::mov_reg(a64::kX9, a64::kLr)},
        {"mov x0, x1", a64::mov_reg(0, 1)},
        {"mov x29, sp", a64::mov_from_sp(a64::kFp)},
        {"mov x10, sp", a64::mov_from_sp(10)},
        {"mov sp, x29", a64::mov_to_sp(a64::kFp)},
        {"add x16, x16, #0x678", a64::add_imm(a64::kX16, a64::kX16, 0x678)},
        {"add x0, x1, #1, lsl #12", a64::add_imm(0, 1, 1, true)},
        {"add sp, sp, #144", a64::add_imm(a64::kSp, a64::kSp, 144)},
        {"sub sp, sp, #144", a64::sub_imm(a64::kSp, a64::kSp, 144)},
        {"sub x2, x3, #0xfff", a64::sub_imm(2, 3, 0xfff)},
        {"br x16", a64::br(a64::kX16)},
        {"br x17", a64::br(a64::kX17)},
        {"blr x4", a64::blr(4)},
        {"ret", a64::ret()},
        {"ret x9", a64::ret(a64::kX9)},
        {"stp x29, x30, [sp, #-16]!", a64::stp_pre(a64::kFp, a64::kLr, a64::kSp, -16)},
        {"stp x29, x9, [sp, #-16]!", a64::stp_pre(a64::kFp, a64::kX9, a64::kSp, -16)},
        {"stp x0, x1, [sp, #-512]!", a64::stp_pre(0, 1, a64::kSp, -512)},
        {"stp x2, x3, [sp, #504]", a64::stp_off(2, 3, a64::kSp, 504)},
        {"stp x4, x5, [x6]", a64::stp_off(4, 5, 6, 0)},
        {"ldp x29, x30, [sp], #16", a64::ldp_post(a64::kFp, a64::kLr, a64::kSp, 16)},
        {"ldp x0, x1, [sp, #16]", a64::ldp_off(0, 1, a64::kSp, 16)},
        {"ldp x7, x8, [x9, #-8]", a64::ldp_off(7, 8, 9, -8)},
        {"brk #0x100", a64::brk(0x100)},
        {"brk #4", a64::brk(4)},
        {"hvc #0", a64::hvc(0)},
        {"hvc #0xffff", a64::hvc(0xffff)},
        {"svc #0", a64::svc(0)},
        {"bti c", a64::bti_c()},
        {"paciasp", a64::paciasp()},
        {"autiasp", a64::autiasp()},
        {"isb", a64::isb()},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(c.ours == llvm_word(c.text));
    }
    // The constants of kernel-semantics.md §11 directly.
    CHECK(a64::mov_reg(a64::kX9, a64::kLr) == InsnWord(0xaa1e03e9));
    CHECK(a64::stp_pre(a64::kFp, a64::kLr, a64::kSp, -16) == InsnWord(0xa9bf7bfd));
    CHECK(a64::brk(0x100) == InsnWord(0xd4202000));
}

TEST_CASE("encoders: bl and b over the whole range, edges included") {
    for (int64_t off : {int64_t(0), int64_t(4), int64_t(-4), int64_t(0x1000), int64_t(-0x123450),
                        a64::kBranchMax, a64::kBranchMin}) {
        CAPTURE(off);
        auto ours_bl = a64::bl(kBase, kBase + off);
        auto ours_b = a64::b(kBase, kBase + off);
        REQUIRE(ours_bl.ok());
        REQUIRE(ours_b.ok());
        CHECK(*ours_bl == llvm_word("bl " + dot(off)));
        CHECK(*ours_b == llvm_word("b " + dot(off)));
        CHECK(a64::branch_target(kBase, *ours_bl) == kBase + off);
        CHECK(a64::branch_target(kBase, *ours_b) == kBase + off);
        CHECK(a64::reachable_by_bl(kBase, kBase + off));
    }
    CHECK(*a64::bl(kBase, kBase + 0x7fffffc) == InsnWord(0x95ffffff));
    CHECK(*a64::bl(kBase, kBase - 0x8000000) == InsnWord(0x96000000));
}

TEST_CASE("encoders: out-of-range and misaligned branches are errors, as in LLVM") {
    auto far = a64::bl(kBase, kBase + 0x8000000);
    REQUIRE_FALSE(far.ok());
    CHECK(far.error().message ==
          "error: bl from 0xffff800008000000 to 0xffff800010000000: offset +0x8000000 is out of "
          "range by 0x4 (reach is [-0x8000000, +0x7fffffc])");
    auto back = a64::b(kBase, kBase - 0x8000004);
    REQUIRE_FALSE(back.ok());
    CHECK(back.error().message.find("offset -0x8000004 is out of range by 0x4") !=
          std::string::npos);
    CHECK_FALSE(a64::reachable_by_bl(kBase, kBase + 0x8000000));
    auto odd = a64::bl(kBase, kBase + 2);
    REQUIRE_FALSE(odd.ok());
    CHECK(odd.error().message.find("aligned") != std::string::npos);
    // LLVM refuses the same offsets.
    CHECK_FALSE(assemble("bl .+0x8000000\n", "r.S").ok());
    CHECK_FALSE(assemble("b .-0x8000004\n", "r.S").ok());
}

TEST_CASE("encoders: adrp page deltas equal LLVM's, edges and errors included") {
    // Three NOPs first: the ADRP sits at kBase + 12, not page aligned.
    for (int64_t pages : {int64_t(0), int64_t(1), int64_t(-1), int64_t(0x12345), a64::kAdrpMaxPages,
                          a64::kAdrpMinPages}) {
        CAPTURE(pages);
        const GuestAddr pc = kBase + 12;
        const GuestAddr target = pc.align_down(4096) + pages * 4096 + 0xabc;
        auto ours = a64::adrp(a64::kX16, pc, target);
        REQUIRE(ours.ok());
        const std::string imm =
            pages < 0 ? fmt::format("#-{:#x}", -pages * 4096) : fmt::format("#{:#x}", pages * 4096);
        const auto words = test::assemble_words("nop\nnop\nnop\nadrp x16, " + imm + "\n");
        CHECK(*ours == words[3]);
        CHECK(a64::pc_relative_target(pc, *ours) == target.align_down(4096));
    }
    auto far = a64::adrp(0, kBase, kBase + (int64_t(1) << 32));
    REQUIRE_FALSE(far.ok());
    CHECK(far.error().message.find("out of range") != std::string::npos);
}

TEST_CASE("decoders: classify LLVM-encoded words") {
    CHECK(a64::is_nop(llvm_word("nop")));
    CHECK_FALSE(a64::is_nop(llvm_word("hint #1")));
    CHECK(a64::is_bl(llvm_word("bl .+8")));
    CHECK_FALSE(a64::is_bl(llvm_word("b .+8")));
    CHECK(a64::is_b(llvm_word("b .+8")));
    CHECK_FALSE(a64::is_b(llvm_word("b.eq .+8")));
    CHECK_FALSE(a64::branch_target(kBase, llvm_word("b.eq .+8")).has_value());
    CHECK(a64::pc_relative_target(kBase, llvm_word("b.eq .+8")) == kBase + 8);
    CHECK(a64::is_ret(llvm_word("ret")));
    CHECK(a64::is_ret(llvm_word("ret x9")));
    CHECK(a64::is_br(llvm_word("br x16")));
    CHECK(a64::is_blr(llvm_word("blr x4")));
    CHECK_FALSE(a64::is_br(llvm_word("blr x4")));
    for (const char* t : {"bti", "bti c", "bti j", "bti jc"}) {
        CAPTURE(t);
        CHECK(a64::is_bti(llvm_word(t)));
    }
    CHECK_FALSE(a64::is_bti(llvm_word("paciasp")));
    CHECK(a64::hvc_imm(llvm_word("hvc #0x42")) == uint16_t(0x42));
    CHECK_FALSE(a64::hvc_imm(llvm_word("svc #0x42")).has_value());
    CHECK(a64::brk_imm(llvm_word("brk #0x100")) == uint16_t(0x100));
}

TEST_CASE("decoders: the CMODX set is exactly B, BL, NOP, BRK, SVC, HVC, SMC, ISB") {
    for (const char* t : {"b .+8", "bl .-8", "nop", "brk #0x100", "svc #0", "hvc #1", "smc #0",
                          "isb"}) {
        CAPTURE(t);
        CHECK(a64::is_cmodx_safe(llvm_word(t)));
    }
    for (const char* t : {"mov x9, x30", "b.ne .+8", "cbz x0, .+8", "br x16", "ret", "hint #1",
                          "bti c", "paciasp", "dsb ish", "ldr x0, [x1]", "stp x29, x30, [sp, #-16]!",
                          "eret"}) {
        CAPTURE(t);
        CHECK_FALSE(a64::is_cmodx_safe(llvm_word(t)));
    }
}
