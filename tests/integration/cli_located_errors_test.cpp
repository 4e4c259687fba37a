// Mistakes users made when they first tried klpemu, each answered with a message that names
// where the mistake is and exit status 2: an unknown subcommand, a scenario with nothing to
// run (also under --update), a golden path that is a directory, a `when` naming no symbol.
#include "support/run_process.h"
#include "support/temp_dir.h"
#include "support/contains.h"

#include <doctest/doctest.h>

#include <filesystem>

using klpemu::test::run_klpemu;

using klpemu::test::contains;

namespace {

constexpr const char* k_kernel = R"([[object]]
name = "vmlinux"
kind = "kernel"
asm = """
        .globl  add_one
add_one:
        add     x0, x0, #1
        ret
"""
)";

} // namespace

TEST_CASE("an unknown subcommand is named, with the known ones") {
    auto r = run_klpemu("frob");
    CHECK(r.status == 2);
    CHECK(contains(r.output, "klpemu: error: unknown subcommand 'frob'; known subcommands: run"));
}

TEST_CASE("a scenario with nothing to run is an error, also with --update") {
    klpemu::test::TempDir dir;
    const auto empty = dir.write("empty.toml", "[scenario]\ndescription = \"nothing\"\n").string();
    for (const char* update : {"", "--update "}) {
        auto r = run_klpemu(std::string("run ") + update + empty);
        CHECK(r.status == 2);
        CHECK(contains(r.output, "empty.toml:1:1: error: nothing to run"));
    }
    CHECK(!std::filesystem::exists(dir.path() / "empty.expected"));
    const auto only_object = dir.write("object.toml", k_kernel).string();
    CHECK(run_klpemu("run --update " + only_object).status == 2);
}

TEST_CASE("a golden transcript path that is a directory is an error") {
    klpemu::test::TempDir dir;
    const auto file =
        dir.write("s.toml", std::string(k_kernel) + "[[step]]\ndo = \"call add_one 1\"\n").string();
    std::filesystem::create_directory(dir.path() / "s.expected");
    for (const char* update : {"", "--update "}) {
        auto r = run_klpemu(std::string("run ") + update + file);
        CHECK(r.status == 2);
        CHECK(contains(r.output, "s.expected: error: golden transcript is a directory"));
    }
}

TEST_CASE("a `when` naming no symbol is located at the key the user wrote") {
    klpemu::test::TempDir dir;
    const auto file =
        dir.write("s.toml", std::string(k_kernel) +
                                "[[task]]\nname = \"w\"\nentry = \"add_one\"\n"
                                "[[step]]\ndo = \"irq 0\"\nwhen = \"w reaches nope\"\n")
            .string();
    auto r = run_klpemu("run --update " + file);
    CHECK(r.status == 2);
    CHECK(contains(r.output,
                   "s.toml:15:8: error: when: 'nope' is not a symbol of any loaded object"));
}
