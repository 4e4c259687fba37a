// The in-process assembler against GNU-as directive use and against bad input: guest objects are
// ELF64 AArch64 relocatables, and broken guest assembly yields file:line:col diagnostics with the
// offending line, never an abort or stray stderr output.
#include "emu/assembler.h"
#include "emu/assembly_memo.h"

#include "emu/line_table_reader.h"

#include "support/elf_text.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>

using namespace klpemu;
using klpemu::test::elf_header;
using klpemu::test::elf_section;
using klpemu::test::elf_section_names;
using klpemu::test::elf_text_words;

namespace {

constexpr std::string_view kEveryDirective = R"(// Every directive kernel-style guest code uses.
        .macro  frame_push reg
        stp     x29, \reg, [sp, #-16]!
        mov     x29, sp
        .endm

        .text
        .globl  traced_fn
        .type   traced_fn, %function
        .balign 8
traced_fn:
        .cfi_startproc
        bti     c
        nop
        nop
        frame_push x30
        .cfi_def_cfa_offset 16
        .cfi_offset 29, -16
        .cfi_offset 30, -8
1:      subs    x0, x0, #1
        b.ne    1b
        bl      callee
        ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        ret
        .cfi_endproc
        .size   traced_fn, . - traced_fn

        .pushsection .rodata, "a"
        .balign 8
table:  .quad   traced_fn
        .word   0x12345678
        .popsection

        .inst   0xd503201f
        .section .data, "aw"
        .quad   table
)";

std::vector<std::string> error_lines(const std::string& message) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= message.size()) {
        size_t end = message.find('\n', pos);
        if (end == std::string::npos) {
            end = message.size();
        }
        out.push_back(message.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

} // namespace

TEST_CASE("assembler: every directive produces an AArch64 ET_REL ELF with .eh_frame") {
    auto obj = assemble(kEveryDirective, "every.S");
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    CHECK(obj->name == "every.S");
    const auto hdr = elf_header(*obj);
    CHECK(hdr.is_elf64_le);
    CHECK(hdr.type == 1);      // ET_REL
    CHECK(hdr.machine == 183); // EM_AARCH64
    const auto names = elf_section_names(*obj);
    for (const char* want : {".text", ".rodata", ".data", ".eh_frame", ".rela.text", ".rela.rodata"}) {
        CHECK_MESSAGE(std::find(names.begin(), names.end(), want) != names.end(), want);
    }
    const auto text = elf_text_words(*obj);
    // bti c, nop, nop, stp, mov, subs, b.ne, bl, ldp, ret, then .inst.
    REQUIRE(text.size() == 11);
    CHECK(text[0] == InsnWord(0xd503245f));
    CHECK(text[1] == InsnWord(0xd503201f));
    CHECK(text[3] == InsnWord(0xa9bf7bfd));
    CHECK(text[4] == InsnWord(0x910003fd));
    CHECK(text[6] == InsnWord(0x54ffffe1)); // b.ne 1b resolved at assembly time
    CHECK(text[7] == InsnWord(0x94000000)); // bl callee left to R_AARCH64_CALL26
    CHECK(text[10] == InsnWord(0xd503201f));
    const auto rodata = elf_section(*obj, ".rodata");
    REQUIRE(rodata.has_value());
    CHECK(rodata->size() == 12);
}

TEST_CASE("assembler: .cfi_sections .debug_frame moves CFI out of .eh_frame") {
    auto obj = assemble("        .cfi_sections .debug_frame\n"
                        "f:      .cfi_startproc\n"
                        "        ret\n"
                        "        .cfi_endproc\n",
                        "dbg.S");
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    const auto names = elf_section_names(*obj);
    CHECK(std::find(names.begin(), names.end(), ".debug_frame") != names.end());
    CHECK(std::find(names.begin(), names.end(), ".eh_frame") == names.end());
}

TEST_CASE("assembler: default features accept PAuth, BTI, LSE and v8.5 instructions") {
    auto obj = assemble("paciasp\nautiasp\nbti j\nldadd x0, x1, [x2]\ncas x0, x1, [x2]\n", "feat.S");
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    CHECK(elf_text_words(*obj).size() == 5);
}

TEST_CASE("assembler: bad input gives file:line:col errors with the source line") {
    struct Case {
        const char* what;
        const char* source;
        const char* first_line_prefix;
        const char* source_line;
    };
    const Case cases[] = {
        {"unknown mnemonic", "nop\n  frobnicate x0\n", "bad.S:2:3: error: ", "  frobnicate x0"},
        {"bad operand", "add x0, x1, #0x12345678\n", "bad.S:1:", "add x0, x1, #0x12345678"},
        {"undefined macro", "nop\nnop\n  no_such_macro x1\n", "bad.S:3:3: error: ",
         "  no_such_macro x1"},
        {"unterminated .macro", ".macro m\nnop\n", "bad.S:", nullptr},
        {".inst with a non-constant", "  .inst undefined_sym\n", "bad.S:1:", "  .inst undefined_sym"},
        {"fixup out of range", "b.eq far\n.skip 0x200000\nfar: ret\n", "bad.S:1:", "b.eq far"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        auto obj = assemble(c.source, "bad.S");
        REQUIRE_FALSE(obj.ok());
        const auto lines = error_lines(obj.error().message);
        REQUIRE(lines.size() >= 1);
        CHECK(lines[0].rfind(c.first_line_prefix, 0) == 0);
        CHECK(lines[0].find("error: ") != std::string::npos);
        if (c.source_line != nullptr) {
            REQUIRE(lines.size() >= 3);
            CHECK(lines[1] == c.source_line);
            CHECK(lines[2].find('^') != std::string::npos);
        }
    }
}

TEST_CASE("assembler: every error is reported, not only the first") {
    auto obj = assemble("bogus1 x0\nnop\nbogus2 x1\n", "two.S");
    REQUIRE_FALSE(obj.ok());
    const auto& m = obj.error().message;
    CHECK(m.find("two.S:1:1: error:") != std::string::npos);
    CHECK(m.find("two.S:3:1: error:") != std::string::npos);
}

TEST_CASE("assembler: unknown cpu or feature names are errors naming the file") {
    auto bad_cpu = assemble("nop\n", "cpu.S", AssemblerOptions{"cortex-z99", "+lse"});
    REQUIRE_FALSE(bad_cpu.ok());
    CHECK(bad_cpu.error().message.find("cpu.S: error: unknown AArch64 cpu 'cortex-z99'") == 0);
    auto bad_feature = assemble("nop\n", "feat.S", AssemblerOptions{"generic", "+frobs"});
    REQUIRE_FALSE(bad_feature.ok());
    CHECK(bad_feature.error().message.find("unknown AArch64 feature '+frobs'") != std::string::npos);
}

TEST_CASE("assembler: an error flood stops at 20 errors (a recursive failing macro ends)") {
    // Each expansion invokes the macro four times until LLVM's nesting limit (20) fails it:
    // 4^20 failing expansions without the error limit, a hang the assembler fuzzer found
    // (tests/data/fuzz-regressions/asm/recursive-macro-error-flood.S is its input).
    auto r = assemble(".macro m\n m\n m\n m\n m\n.endm\n m\n", "flood.S");
    REQUIRE_FALSE(r.ok());
    const std::string& message = r.error().message;
    CHECK(message.find("flood.S: error: too many errors (20), stopping now") != std::string::npos);
    CHECK(message.find("macros cannot be nested more than 20 levels deep") != std::string::npos);
    // The assembler still works after unwinding out of LLVM's parser.
    CHECK(assemble("ret\n", "after.S").ok());
}

TEST_CASE("assembler: a .rept count that is a real literal or too large is an error at the count") {
    // `.rept 64.` is a real literal; LLVM takes its bits (0x4050000000000000) as the count and
    // expands the body into memory for minutes: the assembler fuzzer's hang, whose input is
    // tests/data/fuzz-regressions/asm/rept-real-count.S.
    auto real = assemble("nop\n  .rept 64.\n  nop\n  .endr\n", "rept.S");
    REQUIRE_FALSE(real.ok());
    CHECK(real.error().message.find("rept.S:2:9: error: '.rept 64.': the count is a real number") ==
          0);
    auto huge = assemble(".REP 0x7fffffffffffffff\nnop\n.endr\n", "huge.S");
    REQUIRE_FALSE(huge.ok());
    CHECK(huge.error().message.find("huge.S:1:6: error: '.REP 0x7fffffffffffffff': more than "
                                    "1048576 repetitions") == 0);
    // The limit itself, and the counts kernel code writes, still assemble.
    CHECK(assemble(".rept 1048576\n.byte 0\n.endr\n", "limit.S").ok());
    auto small = assemble(".rept 3\nnop\n.endr\n", "small.S");
    REQUIRE_MESSAGE(small.ok(), small.error().message);
}

TEST_CASE("assembler: repetitions that would nest without bound are errors where they start") {
    // The assembler fuzzer's out-of-memory (tests/data/fuzz-regressions/asm/
    // rep-after-label-exponential.S, `tee: .rep 32` with `.e: .rep 32` in its body): LLVM finds
    // a body's `.endr` counting only directives that begin a statement, so the inner `.rep`,
    // behind a label, ends the outer body at its own `.endr`, and every copy's `.rep` then takes
    // the copies after it as its body: 32^k bytes at depth k, 2 GiB within a second.
    const std::string bomb = "tee:  .rep 32\n  nop\n   .e:  .rep 32\n  nop\n   .endr\n";
    auto labelled = assemble(bomb, "bomb.S");
    REQUIRE_FALSE(labelled.ok());
    CHECK(labelled.error().message.find("bomb.S:3:9: error: '.rep' inside a repeated body but "
                                        "not at the start of its line") == 0);
    // Any label spelling LLVM takes hides it the same way (`@.q:`, the fuzzer's next input,
    // rep-after-label-timeout2.S).
    auto at_label = assemble("te: .rep 32\n @.q: .rep 32\n nop\n .endr\n", "at.S");
    REQUIRE_FALSE(at_label.ok());
    CHECK(at_label.error().message.find("at.S:2:7: error: '.rep' inside a repeated body") == 0);
    // The same for .irp and .irpc, whose bodies LLVM collects the same way.
    auto irp = assemble(".rept 2\nx: .irp r, 1, 2\nnop\n.endr\n.endr\n", "irp.S");
    REQUIRE_FALSE(irp.ok());
    CHECK(irp.error().message.find("irp.S:2:4: error: '.irp' inside a repeated body") == 0);
    // Behind a label but inside no other body, LLVM finds its `.endr`: fine. Nested on lines of
    // their own, too.
    auto top = assemble("a: .rept 2\nnop\n.endr\n.rept 4\n.rept 4\nnop\n.endr\n.endr\n",
                        "top.S");
    REQUIRE_MESSAGE(top.ok(), top.error().message);

    // In a preprocessed .S the error names the user's line, through cpp's line marker, as
    // LLVM's own diagnostics do.
    auto marked = assemble("# 1 \"user.S\"\n// one\n.rept 2\nx: .rept 3\n.endr\n.endr\n",
                           "user.i");
    REQUIRE_FALSE(marked.ok());
    CHECK(marked.error().message.find("user.S:3:4: error: '.rept' inside a repeated body") == 0);

    // Nested literal counts multiply: 1024 * 1024 * 2 copies of the innermost body.
    auto nested = assemble(".rept 1024\n.rept 1024\n  .rept 2\nnop\n.endr\n.endr\n.endr\n",
                           "nested.S");
    REQUIRE_FALSE(nested.ok());
    CHECK(nested.error().message.find("nested.S:3:9: error: '.rept 2' inside 2 repeated bodies: "
                                      "the innermost body would be repeated more than 1048576 "
                                      "times in all") == 0);
}

TEST_CASE("assembler: an .irp/.irpc value written name=value is an error, not a crash") {
    // The assembler fuzzer's segfault (tests/data/fuzz-regressions/asm/
    // irp-named-argument-segv.S, `.irpc ftrace_trace_regs_entry, asllegr=0`): LLVM 19 parses
    // `b=0` as a named macro argument and looks `b` up in a macro that a repetition does not
    // have. llvm-mc-19 itself dies on `.irpc a, b=0`.
    auto irpc = assemble(".irpc a, b=0\nnop\n.endr\n", "irpc.S");
    REQUIRE_FALSE(irpc.ok());
    CHECK(irpc.error().message.find("irpc.S:1:10: error: '.irpc' value 'b=': LLVM reads it as a "
                                    "named macro argument") == 0);
    auto irp = assemble("x: .irp r, 1, b = 2\nnop\n.endr\n", "irp.S");
    REQUIRE_FALSE(irp.ok());
    CHECK(irp.error().message.find("irp.S:1:15: error: '.irp' value 'b='") == 0);
    // Unterminated, the body never parsed: still refused before LLVM sees it.
    CHECK_FALSE(assemble(".irpc a, b=0\n", "open.S").ok());
    // Values that merely contain an expression with '==' or no '=' at all still assemble.
    auto fine =
        assemble(".irp r, 1, 2\n.byte \\r\n.endr\n.irpc c, 12\n.byte \\c\n.endr\n", "fine.S");
    REQUIRE_MESSAGE(fine.ok(), fine.error().message);
}

TEST_CASE("assembler: a repetition spelt in mixed case inside a body is an error") {
    // The assembler fuzzer's next out-of-memory (tests/data/fuzz-regressions/asm/
    // rept-mixed-case-exponential.S): LLVM compares `.rept` and `.endr` case-sensitively while
    // it collects a body but runs directives in any case, so a `.rePt` in a body is the hidden
    // nesting of the labelled `.rep` again.
    auto mixed = assemble(".rept 32\n  .rePt 32\nnop\n.endr\n.endr\n", "mixed.S");
    REQUIRE_FALSE(mixed.ok());
    CHECK(mixed.error().message.find("mixed.S:2:3: error: '.rePt' inside a repeated body: LLVM "
                                     "looks for '.rept' spelt in lower case") == 0);
    auto end = assemble(".irp r, 1, 2\nnop\n.ENDR\n.endr\n", "end.S");
    REQUIRE_FALSE(end.ok());
    CHECK(end.error().message.find("end.S:3:1: error: '.ENDR' inside a repeated body") == 0);
    // Outside any body the case is LLVM's business, and it takes it.
    auto upper = assemble(".REPT 3\nnop\n.endr\n", "upper.S");
    REQUIRE_MESSAGE(upper.ok(), upper.error().message);
}

TEST_CASE("assembler: a body's .endr closes it for the checks that follow") {
    // After the first body closes, `x: .rept 2` is inside no body (fine behind a label) and the
    // second `.rept 1024` is not nested in the first (1024 copies, not 2^20 * 2).
    auto r = assemble(".rept 1024\nnop\n.endr\nx: .rept 2\nnop\n.endr\n.rept 1024\n.rept 1024\n"
                      ".byte 0\n.endr\n.endr\n",
                      "closed.S");
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    // Only an `.endr` that begins its statement ends a body, as in LLVM: behind a label it does
    // not, so the `.rept` after it is still nested.
    auto hidden = assemble(".rept 2\nx: .endr\ny: .rept 2\n.endr\n", "hidden.S");
    REQUIRE_FALSE(hidden.ok());
    CHECK(hidden.error().message.find("hidden.S:3:4: error: '.rept' inside a repeated body but "
                                      "not at the start of its line") == 0);
}

TEST_CASE("assembler: a directive name built from an argument inside a body is an error") {
    // The assembler fuzzer's shape with `.irp` (tests/data/fuzz-regressions/asm/
    // irp-built-directive-name-timeout.S): `.\d` becomes `.rept` only when the body runs, after
    // LLVM has counted the nesting without it.
    auto built = assemble(".irp d, rept\n.rept 4\nx: .\\d 32\nnop\n.endr\n.endr\n.endr\n",
                          "built.S");
    REQUIRE_FALSE(built.ok());
    CHECK(built.error().message.find("built.S:3:4: error: '.\\d' inside a repeated body: a "
                                     "directive name built from an argument") == 0);
    auto partial = assemble(".irp d, pt\n.re\\d 2\nnop\n.endr\n.endr\n", "partial.S");
    REQUIRE_FALSE(partial.ok());
    CHECK(partial.error().message.find("partial.S:2:1: error: '.re\\d' inside a repeated body") ==
          0);
    // A value that is the whole directive's name is refused where it is listed.
    auto value = assemble(".irp d, nop, .rept\n\\d\n.endr\n", "value.S");
    REQUIRE_FALSE(value.ok());
    CHECK(value.error().message.find("value.S:1:14: error: '.irp' value '.rept' names a "
                                     "repetition directive") == 0);
    // What kernel code writes: arguments in operands and in `.L\@` labels, mnemonics as values.
    auto kernel = assemble(".macro saves\n.irp r, 19, 21\n.L\\@\\r: stp x\\r, x\\r, [sp, #-16]!\n"
                           ".endr\n.endm\nsaves\n.irp op, nop, ret\n\\op\n.endr\n",
                           "kernel.S");
    REQUIRE_MESSAGE(kernel.ok(), kernel.error().message);
}

TEST_CASE("assembler: macro recursion through a repeated body is an error at the call") {
    // The assembler fuzzer's out-of-memory (tests/data/fuzz-regressions/asm/
    // macro-recursion-through-rept-oom.S): LLVM stops macro recursion only when exactly 20
    // instantiations are active, and a `.rept` body's instantiation is one it does not check, so
    // a recursive call from inside one steps over 20 and never stops.
    auto direct = assemble(".macro m a, b\nm x, 6\n.rept 3\nm y, 0\n.endr\n.endm\nm q\n",
                           "direct.S");
    REQUIRE_FALSE(direct.ok());
    CHECK(direct.error().message.find("direct.S:4:1: error: macro 'm' calls itself from inside "
                                      "a repeated body") == 0);
    auto mutual = assemble(".macro a\n.irp r, 1, 2\n  B\n.endr\n.endm\n.macro b\na\n.endm\na\n",
                           "mutual.S");
    REQUIRE_FALSE(mutual.ok());
    CHECK(mutual.error().message.find("mutual.S:3:3: error: macro 'a' calls 'b', which leads back "
                                      "to 'a', from inside a repeated body") == 0);
    // Recursion that ends on its own (the kernel's recursive helpers) and calls from repeated
    // bodies that do not recurse still assemble; plain recursion still meets LLVM's limit.
    auto counted = assemble(".macro r n\n.if \\n\nnop\nr \\n-1\n.endif\n.endm\n"
                            ".macro pair\n.rept 2\nr 3\n.endr\n.endm\npair\n",
                            "counted.S");
    REQUIRE_MESSAGE(counted.ok(), counted.error().message);
    auto endless = assemble(".macro m\nm\nm\n.endm\nm\n", "endless.S");
    REQUIRE_FALSE(endless.ok());
    CHECK(endless.error().message.find("macros cannot be nested more than 20 levels deep") !=
          std::string::npos);
}

TEST_CASE("assembler: a section named like the ELF writer's own tables is an error") {
    // LLVM's writer would put the symbol table into the source's `.symtab` and the object would
    // have none (the assembler fuzzer's crash, tests/data/fuzz-regressions/asm/
    // section-named-symtab.S: our ELF reader refused the object).
    for (const char* name : {".symtab", ".strtab", ".shstrtab", ".symtab_shndx"}) {
        auto r = assemble(fmt::format("f: bl g\n.section {}\n.asciz \"x\"\n", name), "tab.S");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find(fmt::format("tab.S:2:10: error: section '{}' has the name of "
                                                 "a table the ELF writer makes itself, which "
                                                 "would replace it; rename the section",
                                                 name)) == 0);
    }
    auto quoted = assemble(".pushsection \".strtab\", \"a\"\n.byte 1\n.popsection\n", "q.S");
    REQUIRE_FALSE(quoted.ok());
    CHECK(quoted.error().message.find("q.S:1:14: error: section '.strtab' has the name") == 0);
    // A name a macro builds is past the source check: the check of the parsed sections names it.
    auto built = assemble(".macro sec n\n.section \\n\n.endm\nsec .symtab\n.byte 1\n", "m.S");
    REQUIRE_FALSE(built.ok());
    CHECK(built.error().message == "m.S: error: section '.symtab' has the name of a table the ELF "
                                   "writer makes itself, which would replace it; rename the "
                                   "section");
    CHECK(assemble("f: bl g\n.section .symtab.notes\n.asciz \"x\"\n", "ok.S").ok());
}

TEST_CASE("assembler: a section that would outgrow 64 MiB is an error at the directive") {
    // `.space 0x100p0` is 4 GiB: the assembler fuzzer's out-of-memory (its input is
    // tests/data/fuzz-regressions/asm/space-4gib-oom.S). Without the bound LLVM writes every
    // byte into memory and the process dies.
    auto hex_float = assemble("nop\n  .space 0x100p0\nret\n", "space.S");
    REQUIRE_FALSE(hex_float.ok());
    CHECK(hex_float.error().message.find("space.S:2:10: error: section '.text' would grow past "
                                         "64 MiB here") == 0);

    // Many fills, each small: the running total crosses the limit at the 65th (LLVM names a
    // line of a .rept body as `<instantiation>:N`).
    auto many = assemble(".rept 100\n.space 0x100000\n.endr\n", "many.S");
    REQUIRE_FALSE(many.ok());
    CHECK(many.error().message.find("<instantiation>:65:8: error: section '.text' would grow "
                                    "past 64 MiB here (at least 68157440 bytes)") == 0);

    // `.org` names an offset: the section is at least that long. The same in another section.
    auto org = assemble(".data\n.quad 1\n.org 0x100000000\n", "org.S");
    REQUIRE_FALSE(org.ok());
    CHECK(org.error().message.find("org.S:3:6: error: section '.data' would grow past") == 0);

    // A count that only layout knows (a label difference) meets the bound on the output.
    auto late = assemble("a: .space 0x10000\nb: .space (b - a) * 0x1000\n", "late.S");
    REQUIRE_FALSE(late.ok());
    CHECK(late.error().message ==
          "late.S: error: the object would grow past 65 MiB (sizes that only layout knows, such "
          "as a .space of a label difference); klpemu's limit per object");

    // An alignment written as an expression is checked once parsed, before LLVM writes its
    // padding: `.align 1-2` is 2^63 to LLVM (the assembler fuzzer's align-negative-expression-
    // slow.S, seconds of padding before the object bound stopped it).
    auto align = assemble("nop\n.balign (1 << 31)\n", "align.S");
    REQUIRE_FALSE(align.ok());
    CHECK(align.error().message == "align.S: error: section '.text' is aligned to 0x80000000 "
                                   "bytes, past klpemu's limit of 16 MiB (an alignment written "
                                   "as an expression)");
    auto negative_expr = assemble(".data\n.align 1-2\n.quad 1\n", "negx.S");
    REQUIRE_FALSE(negative_expr.ok());
    CHECK(negative_expr.error().message.find("negx.S: error: section '.data' is aligned to") == 0);
    CHECK(assemble(".data\n.align 25-1\n.quad 1\n", "edgex.S").ok());
    // A literal one is an error at the operand, before LLVM writes padding: `.p2align -3` is
    // 2^61 to LLVM (the assembler fuzzer's slowest inputs).
    auto negative = assemble(".data\n.p2align -3\n.quad 1\n", "neg.S");
    REQUIRE_FALSE(negative.ok());
    CHECK(negative.error().message.find("neg.S:2:10: error: '.p2align -': a negative alignment") ==
          0);
    auto wide = assemble("nop\n.balign 0x80000000\n.align 27\n", "wide.S");
    REQUIRE_FALSE(wide.ok());
    CHECK(wide.error().message.find("wide.S:2:9: error: '.balign 0x80000000': an alignment past "
                                    "16 MiB") == 0);
    CHECK(wide.error().message.find("wide.S:3:8: error: '.align 27': an alignment past") !=
          std::string::npos);
    CHECK(assemble(".p2align 24\nnop\n", "edge.S").ok());

    // Just under the limit still assembles, and the assembler works after each refusal.
    auto big = assemble(".bss\n.space 0x3f00000\n.text\nret\n", "big.S");
    CHECK(big.ok());
    CHECK(assemble("ret\n", "after.S").ok());
}

namespace {

// Every line row of an assembled object, with every section placed at 0x1000.
std::vector<LineRow> rows_of(const ObjectBytes& obj) {
    const std::vector<std::optional<GuestAddr>> placed(64, GuestAddr(0x1000));
    return read_line_rows(obj, placed, obj.name);
}

} // namespace

TEST_CASE("assembler: assembly gets a line table naming each instruction's source line") {
    // As `as -g` gives it: what break FILE:LINE and next read in .S files and inline asm.
    auto obj = assemble("\n        .text\nf:\n        nop\n        ret\n", "dir/t.S");
    REQUIRE(obj.ok());
    const auto rows = rows_of(*obj);
    REQUIRE(rows.size() >= 2);
    CHECK(rows[0].file.ends_with("t.S"));
    CHECK(rows[0].line == 4);
    CHECK(rows[0].addr == GuestAddr(0x1000));
    CHECK(rows[1].line == 5);
    CHECK(rows[1].addr == GuestAddr(0x1004));
}

TEST_CASE("assembler: a source with its own line program keeps it") {
    // A compiler's output (.file N / .loc): LLVM's parser stops generating at `.file N`, so
    // the source's own rows (if any) are the table, and the assembly does not fail.
    auto obj = assemble("        .text\n        .file 1 \"/src/x.c\"\nf:\n        .loc 1 7 0\n"
                        "        nop\n        ret\n",
                        "x.s");
    REQUIRE_MESSAGE(obj.ok(), (obj.ok() ? "" : obj.error().message));
    for (const LineRow& row : rows_of(*obj)) { // None generated for x.s itself.
        CHECK(row.file == "/src/x.c");
    }
}

TEST_CASE("the assembly memo gives what assembling gives, once per distinct input") {
    AssemblyMemo memo;
    const std::string_view src = ".globl f\nf:\n    mov x0, #1\n    ret\n";
    auto direct = assemble(src, "a.S");
    REQUIRE(direct.ok());
    auto first = memo.assemble(src, "a.S");
    auto second = memo.assemble(src, "a.S");
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    CHECK(first->bytes == direct->bytes);
    CHECK(second->bytes == direct->bytes);
    CHECK(second->name == "a.S");
    CHECK(memo.size() == 1);
    // The name is part of the input (it is in the object's symbol table and messages).
    REQUIRE(memo.assemble(src, "b.S").ok());
    CHECK(memo.size() == 2);
    // So are the options.
    AssemblerOptions older;
    older.features = "+v8a";
    REQUIRE(memo.assemble(src, "a.S", older).ok());
    CHECK(memo.size() == 3);
    // A failure is not kept, and its message is the assembler's.
    auto bad = memo.assemble("    nosuchinsn x0\n", "bad.S");
    REQUIRE(!bad.ok());
    CHECK(bad.error().message.find("bad.S:1:") != std::string::npos);
    CHECK(memo.size() == 3);
}
