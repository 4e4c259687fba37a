// The loader against what real compilers emit for ftrace: funcs.c compiled by clang-19 and by
// aarch64-linux-gnu-gcc, each with -fpatchable-function-entry=2 and =4,2 (CALL_OPS, with
// -falign-functions=8 as FUNCTION_ALIGNMENT_8B gives the kernel), each with and without
// -mbranch-protection=standard. Every function must get exactly one patch site, at the place
// reference §1 says, and the symbolizer must name the addresses involved.
#include "emu/c_compiler.h"
#include "emu/loader.h"
#include "emu/symbol_table.h"

#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <set>

using namespace klpemu;

namespace {

const GuestAddr kBase(0xffff800008000000);
constexpr uint32_t kNop = 0xd503201f;  // nop
constexpr uint32_t kBtiC = 0xd503245f; // bti c

const std::set<std::string> kFunctions = {
    "leaf_add",   "static_square", "calls_static", "callee",
    "tail_caller", "sum_varargs",  "ten_args",     "calls_many",
    "bump",       "uses_static_and_global"};

uint32_t word_at(const LoadedObject& obj, GuestAddr addr) {
    for (const auto& s : obj.sections) {
        if (s.range.contains(addr) && !s.bytes.empty()) {
            uint32_t w = 0;
            std::memcpy(&w, s.bytes.data() + (addr - s.range.begin), 4);
            return w;
        }
    }
    FAIL("no bytes at " << fmt::format("{}", addr));
    return 0;
}

void check_build(Compiler compiler, bool call_ops, bool bti) {
    CompileOptions opts;
    opts.compiler = compiler;
    if (call_ops) {
        opts.extra_flags = {"-fpatchable-function-entry=4,2", "-falign-functions=8"};
    }
    if (bti) {
        opts.extra_flags.push_back("-mbranch-protection=standard");
    }
    auto obj = compile_c(std::string(KLPEMU_TEST_DATA) + "/loader/funcs.c", opts);
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    SymbolTable kernel;
    auto loaded = Loader().load(*obj, kBase, {}, kernel);
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
    SymbolTable table;
    table.add_object(*loaded);

    std::map<std::string, int> sites_per_function;
    for (const auto& site : loaded->patch_sites) {
        CAPTURE(site.function);
        sites_per_function[site.function]++;
        auto fn = table.lookup_in(loaded->name, site.function);
        REQUIRE(fn.has_value());
        CHECK(fn->kind == SymbolKind::Function);
        CHECK(site.function_addr == fn->addr);
        // gcc leaves `bti c` off static functions that are only called directly.
        const bool has_bti = word_at(*loaded, site.function_addr) == kBtiC;
        CHECK(site.bti == has_bti);
        if (!bti) {
            CHECK_FALSE(site.bti);
        }
        CHECK(site.first_nop == site.function_addr + (site.bti ? 4 : 0));
        CHECK(site.rec_ip == site.first_nop + 4);
        CHECK(word_at(*loaded, site.first_nop) == kNop);
        CHECK(word_at(*loaded, site.rec_ip) == kNop);
        if (call_ops) {
            REQUIRE(site.ops_literal.has_value());
            CHECK(site.entry == site.function_addr - 8);
            CHECK(*site.ops_literal == site.entry);
            CHECK(site.ops_literal->is_aligned(8));
            CHECK(word_at(*loaded, *site.ops_literal) == kNop);
            CHECK(word_at(*loaded, *site.ops_literal + 4) == kNop);
            // ftrace_call_adjust's rule: rec->ip is A+12, or A+16 with BTI.
            CHECK(site.rec_ip == site.entry + (site.bti ? 16 : 12));
            // ftrace_caller finds the literal at ALIGN_DOWN(rec->ip - 12, 8).
            CHECK((site.rec_ip - 12).align_down(8) == *site.ops_literal);
        } else {
            CHECK_FALSE(site.ops_literal.has_value());
            CHECK(site.entry == site.first_nop);
            CHECK(site.rec_ip == site.function_addr + (site.bti ? 8 : 4));
        }
        // The symbolizer names every address of the site.
        CHECK(table.symbolize(site.function_addr).str() == site.function);
        CHECK(table.symbolize(site.rec_ip).str() ==
              fmt::format("{}+{:#x}", site.function, site.rec_ip - site.function_addr));
        CHECK(table.function_at(site.rec_ip)->name == site.function);
    }
    for (const auto& f : kFunctions) {
        CAPTURE(f);
        CHECK(sites_per_function[f] == 1);
    }
    CHECK(sites_per_function.size() == kFunctions.size());
    CHECK(table.lookup("global_counter").has_value());
    CHECK_FALSE(table.lookup("static_square").has_value()); // Local: not an export.
}

} // namespace

TEST_CASE("real compilers: every function has one patch site where its layout says") {
    for (Compiler compiler : {Compiler::Clang, Compiler::Gcc}) {
        for (bool call_ops : {false, true}) {
            for (bool bti : {false, true}) {
                CAPTURE(compiler == Compiler::Clang ? "clang-19" : "aarch64-linux-gnu-gcc");
                CAPTURE(call_ops ? "-fpatchable-function-entry=4,2" : "=2");
                CAPTURE(bti ? "-mbranch-protection=standard" : "no BTI");
                check_build(compiler, call_ops, bti);
            }
        }
    }
}

TEST_CASE("real compilers: compiler diagnostics come back verbatim") {
    auto obj = compile_c(std::string(KLPEMU_TEST_DATA) + "/loader/does_not_exist.c");
    REQUIRE_FALSE(obj.ok());
    CHECK(obj.error().message.find("does_not_exist.c") != std::string::npos);
    auto unknown = load_source_file(std::string(KLPEMU_TEST_DATA) + "/loader/funcs.txt");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message.find("funcs.txt: error: unknown source kind") !=
          std::string::npos);
}
