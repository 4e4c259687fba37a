// A guest can printk any byte. Every report format must stay well formed and free of raw
// control bytes and malformed UTF-8 (a terminal must not receive ESC, JUnit must stay XML 1.0,
// JSON must parse): every byte value 0..255 goes through printk's %c, and 1..255 through %s.
#include "support/run_process.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

using klpemu::test::run_klpemu;

namespace {

std::string every_byte_scenario() {
    std::string bytes;
    for (int b = 1; b < 256; ++b) {
        bytes += (bytes.empty() ? "" : ", ") + std::to_string(b);
    }
    return R"([[object]]
name = "vmlinux"
kind = "kernel"
asm = """
        .section .rodata
fmt_c:  .asciz  "%c"
fmt_s:  .asciz  "all: %s"
all:    .byte   )" +
           bytes + R"(, 0
        .text
        .globl  every_byte
every_byte:
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        mov     x19, #0
1:      adrp    x0, fmt_c
        add     x0, x0, :lo12:fmt_c
        mov     x1, x19
        bl      printk
        add     x19, x19, #1
        cmp     x19, #256
        b.ne    1b
        adrp    x0, fmt_s
        add     x0, x0, :lo12:fmt_s
        adrp    x1, all
        add     x1, x1, :lo12:all
        bl      printk
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
"""

[[step]]
do = "call every_byte"

# Fails on purpose: its detail quotes the guest's line, so JSON carries guest bytes too.
[[expect]]
no_log = "] all: "
)";
}

// Valid UTF-8 with no control byte other than '\n' and '\t' (and no DEL).
void check_clean(const std::string& out) {
    for (size_t i = 0; i < out.size();) {
        const auto c = static_cast<unsigned char>(out[i]);
        INFO("byte offset ", i, " value ", int(c));
        if (c < 0x80) {
            CHECK((c >= 0x20 || c == '\n' || c == '\t'));
            CHECK(c != 0x7f);
            ++i;
            continue;
        }
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        REQUIRE(len != 0);
        REQUIRE(i + len <= out.size());
        for (size_t k = 1; k < len; ++k) {
            REQUIRE((static_cast<unsigned char>(out[i + k]) & 0xc0) == 0x80);
        }
        i += len;
    }
}

} // namespace

TEST_CASE("every byte 0..255 through printk: every report format stays clean") {
    klpemu::test::TempDir dir;
    const auto file = dir.write("bytes.toml", every_byte_scenario()).string();
    // No golden file: the scenario fails and the text and KTAP reports show the transcript diff;
    // the failing no_log expectation quotes the guest's line in every format.
    for (const char* format : {"text", "ktap", "junit", "json"}) {
        INFO("format ", format);
        auto r = run_klpemu(std::string("run --format ") + format + " " + file);
        CHECK(r.status == 1);
        check_clean(r.output);
        CHECK(r.output.find("\\x1b") != std::string::npos); // ESC, escaped.
        if (std::string(format) != "json") { // JSON has no transcript, only the detail.
            CHECK(r.output.find("\\x00") != std::string::npos); // NUL through %c.
        }
        CHECK(r.output.find("\\xff") != std::string::npos);
        if (std::string(format) == "json") {
            bool parsed = false;
            CHECK_NOTHROW(parsed = !nlohmann::json::parse(r.output).is_discarded());
            CHECK(parsed);
        }
        if (std::string(format) == "junit") {
            const auto xml = dir.write("out.xml", r.output).string();
            if (std::system("command -v xmllint >/dev/null") == 0) { // libxml2-utils
                CHECK(std::system(("xmllint --noout " + xml).c_str()) == 0);
            }
        }
    }
    // The golden transcript written by --update is clean too.
    CHECK(run_klpemu("run --update " + file).status == 1); // The no_log still fails.
    std::string golden;
    {
        std::ifstream in(dir.path() / "bytes.expected", std::ios::binary);
        golden.assign(std::istreambuf_iterator<char>(in), {});
    }
    check_clean(golden);
    CHECK(golden.find("[cpu0 call:every_byte] \\x1b\n") != std::string::npos);
    CHECK(golden.find("[cpu0 call:every_byte] \\x5c\n") != std::string::npos); // backslash
}
