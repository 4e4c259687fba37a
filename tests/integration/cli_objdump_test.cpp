// `klpemu objdump` end to end: the binary a user runs, on assembly, on C from both compilers,
// with --json, and on each kind of bad input (exit status 2, the file named in the message).
#include "emu/assembler.h"
#include "support/subprocess.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

using klpemu::test::run_process;

namespace {

std::string data(const std::string& rel) { return std::string(KLPEMU_TEST_DATA) + "/" + rel; }

klpemu::test::ProcessResult objdump(std::vector<std::string> args) {
    args.insert(args.begin(), {KLPEMU_BINARY, "objdump"});
    return run_process(args);
}

} // namespace

TEST_CASE("objdump prints sections, symbols, patch sites and symbolized disassembly") {
    const auto r = objdump({data("cli/kernel_and_module.S")});
    INFO(r.err);
    REQUIRE(r.exit_status == 0);
    CHECK(r.out.find(".text") != std::string::npos);
    CHECK(r.out.find("0xffff800008000000  func    global") != std::string::npos);
    // Both patchable NOPs of `traced` are listed, at the entry and entry+4.
    CHECK(r.out.find("traced                   nop 0xffff800008000000  nop 0xffff800008000004") !=
          std::string::npos);
    // The BL inside traced is symbolized to its callee.
    CHECK(r.out.find("bl 0xffff80000800001c <helper>") != std::string::npos);
}

TEST_CASE("objdump --base moves the image") {
    const auto r = objdump({"--base", "0xffff800010000000", data("cli/kernel_and_module.S")});
    REQUIRE(r.exit_status == 0);
    CHECK(r.out.find("0xffff800010000000 <traced>:") != std::string::npos);
}

TEST_CASE("objdump --json has sections, symbols and patch_sites with hex-string addresses") {
    const auto r = objdump({"--json", data("cli/kernel_and_module.S")});
    REQUIRE(r.exit_status == 0);
    const auto j = nlohmann::json::parse(r.out);
    REQUIRE(j.contains("sections"));
    REQUIRE(j.contains("symbols"));
    REQUIRE(j["patch_sites"].size() == 2);
    CHECK(j["patch_sites"][0]["function"] == "traced");
    CHECK(j["patch_sites"][0]["address"] == "0xffff800008000000");
    CHECK(j["patch_sites"][1]["function"] == "helper");
    CHECK(j["patch_sites"][1]["address"] == "0xffff80000800001c");
}

TEST_CASE("objdump loads C from clang and from gcc with a patch site per function") {
    for (const char* compiler : {"clang", "gcc"}) {
        CAPTURE(compiler);
        const auto r = objdump({"--json", "--compiler", compiler, data("loader/funcs.c")});
        INFO(r.err);
        REQUIRE(r.exit_status == 0);
        const auto j = nlohmann::json::parse(r.out);
        int functions = 0;
        for (const auto& s : j["symbols"]) {
            functions += s["kind"] == "func" ? 1 : 0;
        }
        CHECK(functions >= 8);
        CHECK(j["patch_sites"].size() == size_t(functions));
    }
}

TEST_CASE("objdump resolves a later file against an earlier one's exports") {
    const auto dir = std::filesystem::temp_directory_path() / "klpemu-objdump-two";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "user.S") << ".text\n.globl user\n.type user, %function\nuser:\n"
                                     "  b helper\n.size user, .-user\n";
    const auto r = objdump({data("cli/kernel_and_module.S"), (dir / "user.S").string()});
    INFO(r.err);
    REQUIRE(r.exit_status == 0);
    CHECK(r.out.find("b 0xffff80000800001c <helper>") != std::string::npos);
}

TEST_CASE("objdump: bad input exits 2 with a message naming the file") {
    SUBCASE("malformed assembly names file, line and column") {
        const auto r = objdump({data("cli/bad_syntax.S")});
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("bad_syntax.S:3:5: error:") != std::string::npos);
        CHECK(r.err.find("frobnicate x0, x1") != std::string::npos);
    }
    SUBCASE("undefined symbol") {
        const auto r = objdump({data("cli/undefined.S")});
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("undefined.S: error: undefined symbol 'missing_function'") !=
              std::string::npos);
    }
    SUBCASE("unsupported relocation") {
        const auto r = objdump({data("cli/unsupported_reloc.S")});
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("unsupported_reloc.S: error:") != std::string::npos);
        CHECK(r.err.find("TLSLE") != std::string::npos);
    }
    SUBCASE("truncated ELF") {
        auto obj = klpemu::assemble(".text\nnop\nret\n", "whole.S");
        REQUIRE(obj.ok());
        const auto path = std::filesystem::temp_directory_path() / "klpemu-truncated.o";
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(obj->bytes.data()), 100);
        const auto r = objdump({path.string()});
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("klpemu-truncated.o: error:") != std::string::npos);
    }
    SUBCASE("a C compile error passes the compiler's file:line through") {
        const auto path = std::filesystem::temp_directory_path() / "klpemu-broken.c";
        std::ofstream(path) << "int f(void) {\n  return x;\n}\n";
        const auto r = objdump({path.string()});
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("klpemu-broken.c:2:") != std::string::npos);
    }
    SUBCASE("a missing file") {
        const auto r = objdump({"/nonexistent/nothing.S"});
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("nothing.S") != std::string::npos);
    }
}
