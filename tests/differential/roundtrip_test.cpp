// Assembler and disassembler against each other: each corpus line is assembled by klpemu's
// assembler and the resulting word, disassembled at a known kernel address, must print back as
// the same text. PC-relative operands are written `.+off` (or to a label) in the source and
// expected as the absolute address the disassembler prints.
#include "emu/disassembler.h"
#include "emu/insn_encoding.h"

#include "support/asm_words.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace klpemu;

namespace {

constexpr GuestAddr kBase{0xffff800008000000};

struct Line {
    std::string source;
    std::string expected;
    std::optional<GuestAddr> target;
};

class Corpus {
  public:
    // An instruction whose printed form is its source form.
    void plain(const std::string& text) { m_lines.push_back({text, text, std::nullopt}); }
    // A PC-relative instruction: `prefix` then `.+off`; printed with the absolute address.
    void rel(const std::string& prefix, int64_t off) {
        const GuestAddr pc = kBase + int64_t(m_lines.size() * 4);
        const std::string dot = off < 0 ? fmt::format(".-{:#x}", -off) : fmt::format(".+{:#x}", off);
        m_lines.push_back({prefix + dot, fmt::format("{}{:#x}", prefix, (pc + off).value), pc + off});
    }
    // A PC-relative instruction naming the label `top` at the start of the corpus.
    void to_top(const std::string& prefix) {
        m_lines.push_back({prefix + "top", fmt::format("{}{:#x}", prefix, kBase.value), kBase});
    }
    std::string source() const {
        std::string s = "top:\n";
        for (const auto& l : m_lines) {
            s += "        " + l.source + "\n";
        }
        return s;
    }
    const std::vector<Line>& lines() const { return m_lines; }

  private:
    std::vector<Line> m_lines;
};

Corpus make_corpus() {
    Corpus c;
    // ALU
    for (const char* t : {"add x0, x1, x2", "add w3, w4, #12", "add x29, sp, #16", "sub sp, sp, #144",
                          "add sp, sp, #144", "subs x5, x6, #1", "adds w7, w8, w9, lsl #3",
                          "and x0, x1, #0xff", "orr x2, x3, x4", "eor w5, w6, w7, ror #2",
                          "and x11, x30, #0xfffffffffffffff8" /* bic x11, x30, #7 */, "mov x9, x30", "mov x29, sp",
                          "mov x10, sp", "mov x0, #4096", "movk x0, #4660, lsl #16",
                          "mul x3, x2, x2", "madd x1, x2, x3, x4", "udiv x0, x1, x2",
                          "lsl x0, x1, #3", "lsr w2, w3, #7", "asr x4, x5, #63", "cmp x0, #0",
                          "cmn w1, #1", "tst x2, #0x1", "csel x0, x1, x2, eq", "cset w3, ne",
                          "ubfx x0, x1, #4, #8", "sxtw x2, w3", "neg x4, x5", "mvn x6, x7",
                          "clz x0, x1", "rev x2, x3"}) {
        c.plain(t);
    }
    // Loads and stores, including pre/post index and pairs.
    for (const char* t :
         {"ldr x0, [x1]", "ldr x2, [x3, #8]", "ldr w4, [x5, #4]!", "ldr x6, [x7], #16",
          "str x8, [sp, #-16]!", "str w9, [x10], #-4", "ldrb w0, [x1, #1]", "ldrh w2, [x3, x4, lsl #1]",
          "ldrsw x5, [x6, #4]", "strb w7, [x8]", "ldur x11, [x11, #-16]", "stur w0, [x29, #-4]",
          "stp x29, x30, [sp, #-16]!", "stp x29, x9, [sp, #-16]!", "ldp x29, x30, [sp], #16",
          "stp x0, x1, [sp, #16]", "ldp x2, x3, [x4, #-32]", "ldp w5, w6, [x7]",
          "ldr x0, [x1, x2]", "str x3, [x4, w5, sxtw #3]"}) {
        c.plain(t);
    }
    // System, barriers, cache maintenance, pointer authentication, BTI, exceptions.
    for (const char* t :
         {"nop", "isb", "dsb ish", "dsb ishst", "dmb ish", "dc cvau, x0", "ic ivau, x0",
          "ic iallu", "bti c", "bti j", "bti jc", "paciasp", "autiasp", "hvc #0", "hvc #0x1234",
          "brk #0x100", "brk #0x4", "svc #0", "smc #0", "mrs x0, CurrentEL", "mrs x1, TPIDR_EL1",
          "msr DAIFSet, #2", "msr TPIDR_EL1, x2", "ret", "ret x9", "br x16", "br x17",
          "blr x4", "eret"}) {
        c.plain(t);
    }
    // Exclusives and LSE atomics.
    for (const char* t : {"ldxr x0, [x1]", "stxr w2, x3, [x4]", "ldaxr w5, [x6]",
                          "stlxr w7, w8, [x9]", "ldadd x0, x1, [x2]", "ldaddal w3, w4, [x5]",
                          "cas x0, x1, [x2]", "casal w3, w4, [x5]", "swp x6, x7, [x8]",
                          "stadd x9, [x10]"}) {
        c.plain(t);
    }
    // Branches and other PC-relative forms.
    c.rel("b ", 8);
    c.rel("b ", -8);
    c.rel("bl ", 0x7fffffc);
    c.rel("bl ", -0x8000000);
    c.rel("b.ne ", -4);
    c.rel("b.eq ", 0x40);
    c.rel("cbz x3, ", 12);
    c.rel("cbnz w17, ", -16);
    c.rel("tbz x0, #63, ", 8);
    c.rel("tbnz w1, #3, ", -12);
    c.rel("adr x0, ", 20);
    c.rel("ldr x0, ", 8);
    c.to_top("bl ");
    c.to_top("b ");
    c.to_top("cbnz x17, ");
    return c;
}

} // namespace

TEST_CASE("roundtrip: assembled corpus disassembles to the same text") {
    const Corpus corpus = make_corpus();
    REQUIRE(corpus.lines().size() >= 80);
    const auto words = test::assemble_words(corpus.source());
    REQUIRE(words.size() == corpus.lines().size());
    const Disassembler dis;
    for (size_t i = 0; i < words.size(); ++i) {
        const auto& line = corpus.lines()[i];
        const GuestAddr pc = kBase + int64_t(i * 4);
        CAPTURE(line.source);
        CAPTURE(words[i]);
        const DecodedInsn d = dis.decode(words[i], pc);
        CHECK(d.valid);
        CHECK(d.text == line.expected);
        CHECK(d.branch_target == line.target);
    }
}

TEST_CASE("roundtrip: adrp prints and reports the target page") {
    // MC leaves ADRP to a symbol as an R_AARCH64_ADR_PREL_PG_HI21 relocation, so the page
    // delta is given as an immediate. Three NOPs first: the ADRP's PC is not page aligned.
    const auto words =
        test::assemble_words("nop\nnop\nnop\nadrp x16, #0x12345000\nadrp x17, #-0x1000\n");
    const Disassembler dis;
    const GuestAddr pc = kBase + 12;
    const GuestAddr page = pc.align_down(4096) + 0x12345000;
    const DecodedInsn d = dis.decode(words[3], pc);
    CHECK(d.text == fmt::format("adrp x16, {:#x}", page.value));
    CHECK(d.branch_target == page);
    const DecodedInsn back = dis.decode(words[4], pc + 4);
    CHECK(back.text == fmt::format("adrp x17, {:#x}", (kBase - 0x1000).value));
    CHECK(back.branch_target == kBase - 0x1000);
}

TEST_CASE("roundtrip: undefined words decode as .inst") {
    const Disassembler dis;
    const DecodedInsn d = dis.decode(InsnWord(0xffffffff), kBase);
    CHECK_FALSE(d.valid);
    CHECK(d.text == ".inst 0xffffffff");
    CHECK_FALSE(d.branch_target.has_value());
    // All-zero is the permanently undefined UDF #0, which LLVM 19 does decode.
    CHECK(dis.decode(InsnWord(0x00000000), kBase).text == "udf #0");
}

TEST_CASE("roundtrip: unknown cpu is an error, not a crash") {
    auto d = Disassembler::create("cortex-z99", "");
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().message.find("cortex-z99") != std::string::npos);
}
