// `klpemu objdump` end to end: the binary a user runs, on assembly, on C from both compilers,
// with --json, with modules placed near, far and at an address (regions and PLT entries), and
// on each kind of bad input (exit status 2, the file named in the message).
#include "emu/assembler.h"
#include "support/subprocess.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
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
    INFO(r.out, r.err);
    REQUIRE(r.exit_status == 0);
    // A near module reaches the kernel directly: the branch goes to helper itself.
    const auto j = nlohmann::json::parse(
        objdump({"--json", data("cli/kernel_and_module.S"), (dir / "user.S").string()}).out);
    std::string helper;
    for (const auto& s : j["symbols"]) {
        if (s["name"] == "helper") {
            helper = s["address"];
        }
    }
    REQUIRE(helper.size() > 2);
    CHECK(r.out.find("b " + helper + " <helper>") != std::string::npos);
}

namespace {

const std::vector<std::string> k_plt_files{data("cli/plt_kernel.S"), data("cli/plt_module.S")};

std::vector<std::string> with_plt_files(std::vector<std::string> args) {
    args.insert(args.end(), k_plt_files.begin(), k_plt_files.end());
    return args;
}

// Each line of `text` that starts (after indentation) with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const size_t first = line.find_first_not_of(' ');
        if (first != std::string::npos && line.compare(first, prefix.size(), prefix) == 0) {
            out.push_back(line.substr(first));
        }
    }
    return out;
}

std::string symbol_address(const nlohmann::json& j, const std::string& name) {
    for (const auto& s : j["symbols"]) {
        if (s["name"] == name) {
            return s["address"];
        }
    }
    return "";
}

} // namespace

TEST_CASE("objdump --module-placement far: one PLT entry per distinct kernel callee") {
    const auto r = objdump(with_plt_files({"--module-placement", "far"}));
    INFO(r.out, r.err);
    REQUIRE(r.exit_status == 0);
    CHECK(r.out.find("plt_module.S: module core at +") != std::string::npos);
    CHECK(r.out.find("(out of BL reach)") != std::string::npos);
    const auto plts = lines_starting(r.out, ".plt[");
    REQUIRE(plts.size() == 3);
    CHECK(plts[0].ends_with(" -> kernel_add"));
    CHECK(plts[1].ends_with(" -> kernel_mul"));
    CHECK(plts[2].ends_with(" -> kernel_inc"));
    CHECK(lines_starting(r.out, ".init.plt[").empty());
    CHECK(r.out.find("3 of 3 entries used") != std::string::npos);

    const auto jr = objdump(with_plt_files({"--json", "--module-placement", "far"}));
    REQUIRE(jr.exit_status == 0);
    const auto j = nlohmann::json::parse(jr.out);
    // The keys objdump always had are still there.
    CHECK(j.contains("sections"));
    CHECK(j.contains("symbols"));
    CHECK(j.contains("patch_sites"));
    REQUIRE(j["modules"].size() == 1);
    const auto& mod = j["modules"][0];
    CHECK(mod["name"] == "plt_module.S");
    std::string plt_begin, plt_end;
    for (const auto& region : mod["regions"]) {
        if (region["name"] == ".plt") {
            plt_begin = region["address"];
            plt_end = region["end"];
        }
    }
    REQUIRE_FALSE(plt_begin.empty());
    const auto& entries = mod["plts"];
    REQUIRE(entries.size() == 3);
    const char* targets[] = {"kernel_add", "kernel_mul", "kernel_inc"};
    for (size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(entries[i]["section"] == ".plt");
        CHECK(entries[i]["index"] == i);
        CHECK(entries[i]["target"] == targets[i]);
        CHECK(entries[i]["target_address"] == symbol_address(j, targets[i]));
        const uint64_t at = std::stoull(entries[i]["address"].get<std::string>(), nullptr, 16);
        CHECK(at >= std::stoull(plt_begin, nullptr, 16));
        CHECK(at + 12 <= std::stoull(plt_end, nullptr, 16));
        // The text listing names the same entry, and the module's BLs branch to it.
        const std::string address = entries[i]["address"];
        CHECK(plts[i].find(address) != std::string::npos);
        CHECK(r.out.find("bl " + address + " <plt_module.S:.plt") != std::string::npos);
    }
}

TEST_CASE("objdump --kernel 4.19-v4: the era's 16-byte movn/movk PLT entries") {
    const auto r = objdump(with_plt_files({"--kernel", "4.19-v4", "--module-placement", "far"}));
    INFO(r.out, r.err);
    REQUIRE(r.exit_status == 0);
    const auto plts = lines_starting(r.out, ".plt[");
    REQUIRE(plts.size() == 3);
    CHECK(plts[0].ends_with(" -> kernel_add")); // The entries decode as the era's format.
    CHECK(plts[2].ends_with(" -> kernel_inc"));
    const auto j = nlohmann::json::parse(
        objdump(with_plt_files({"--json", "--kernel", "4.19-v4", "--module-placement", "far"}))
            .out);
    const auto& entries = j["modules"][0]["plts"];
    REQUIRE(entries.size() == 3);
    const auto at = [&](size_t i) {
        return std::stoull(entries[i]["address"].get<std::string>(), nullptr, 16);
    };
    CHECK(at(1) - at(0) == 16);
    CHECK(at(2) - at(1) == 16);
    CHECK(r.out.find("movk x16, #") != std::string::npos);
    // v5.0 and later: adrp/add/br, 12 bytes apart.
    const auto j55 = nlohmann::json::parse(
        objdump(with_plt_files({"--json", "--kernel", "5.5", "--module-placement", "far"})).out);
    const auto& e55 = j55["modules"][0]["plts"];
    REQUIRE(e55.size() == 3);
    CHECK(std::stoull(e55[1]["address"].get<std::string>(), nullptr, 16) -
              std::stoull(e55[0]["address"].get<std::string>(), nullptr, 16) ==
          12);
}

TEST_CASE("objdump near placement (the default) needs no PLT entries") {
    for (const std::vector<std::string>& args :
         {with_plt_files({}), with_plt_files({"--module-placement", "near"})}) {
        const auto r = objdump(args);
        INFO(r.out, r.err);
        REQUIRE(r.exit_status == 0);
        CHECK(r.out.find("(in BL reach)") != std::string::npos);
        CHECK(r.out.find("PLT entries:\n  (none)\n") != std::string::npos);
        CHECK(r.out.find("0 of 3 entries used") != std::string::npos);
        CHECK(lines_starting(r.out, ".plt[").empty());
    }
    const auto j = nlohmann::json::parse(objdump(with_plt_files({"--json"})).out);
    REQUIRE(j["modules"].size() == 1);
    CHECK(j["modules"][0]["plts"].empty());
    CHECK(j["modules"][0]["regions"].size() >= 6);
}

TEST_CASE("objdump --module-placement ADDR puts the module's core memory there") {
    const auto r = objdump(with_plt_files({"--json", "--module-placement", "0xffff8000c0000000"}));
    INFO(r.out, r.err);
    REQUIRE(r.exit_status == 0);
    const auto j = nlohmann::json::parse(r.out);
    REQUIRE(j["modules"].size() == 1);
    const auto& core = j["modules"][0]["regions"][0];
    CHECK(core["name"] == "core");
    CHECK(core["address"] == "0xffff8000c0000000");
    // 2.9 GiB from the kernel: out of BL reach, so PLTs again.
    CHECK(j["modules"][0]["plts"].size() == 3);
}

TEST_CASE("objdump --json on one file has an empty modules list") {
    const auto r = objdump({"--json", data("cli/kernel_and_module.S")});
    REQUIRE(r.exit_status == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["modules"] == nlohmann::json::array());
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
    SUBCASE("a bad --module-placement") {
        const auto r = objdump(with_plt_files({"--module-placement", "sideways"}));
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("--module-placement 'sideways' is not near, far or a page-aligned "
                         "address") != std::string::npos);
    }
    SUBCASE("a --base over the machine's own objects when modules are loaded") {
        const auto r = objdump(with_plt_files({"--base", "0xffff800008000000"}));
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("overlaps the machine's own guest objects") != std::string::npos);
    }
    SUBCASE("a missing file") {
        const auto r = objdump({"/nonexistent/nothing.S"});
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("nothing.S") != std::string::npos);
    }
}

TEST_CASE("objdump --ftrace-source shows the file as built, with its Kconfig and asm-offsets") {
    const std::string file = data("ftrace_source/entry-ftrace-regs.S");
    const auto r = objdump({"--ftrace-source", file, "--kernel", "5.10"});
    INFO(r.err);
    REQUIRE(r.exit_status == 0);
    CHECK(r.out.find("ftrace_source: " + file +
                     " as the 'regs' trampoline (entry "
                     "ftrace_regs_caller; the engine reads the register block at fp 232, lr "
                     "240, sp 248, pc 256)") != std::string::npos);
    CHECK(r.out.find("Kconfig: ARM64 ARM64_MODULE_PLTS DYNAMIC_FTRACE DYNAMIC_FTRACE_WITH_REGS "
                     "FUNCTION_GRAPH_TRACER") != std::string::npos);
    CHECK(r.out.find("#define PT_REGS_SIZE 336\n") != std::string::npos);
    CHECK(r.out.find("<ftrace_graph_call>:") != std::string::npos);
    // The JSON view carries the same build facts.
    const auto j = objdump({"--ftrace-source", file, "--kernel", "5.10", "--json"});
    REQUIRE(j.exit_status == 0);
    const auto doc = nlohmann::json::parse(j.out);
    CHECK(doc["ftrace_source"]["trampoline"] == "regs");
    CHECK(doc["kernel"] == "5.10");
    // A WITH_REGS file cannot be the 6.17 'args' trampoline: the Kconfig says so.
    const auto bad = objdump({"--ftrace-source", file, "--kernel", "6.17"});
    CHECK(bad.exit_status == 2);
    CHECK(bad.err.find("entry-ftrace-regs.S is the WITH_REGS trampoline") != std::string::npos);
}
