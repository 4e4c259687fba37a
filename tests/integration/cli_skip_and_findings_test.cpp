// Verdict lines that tell the truth: a skipped scenario is skipped in every report format and,
// with --skip-exit-code (what ctest's SKIP_RETURN_CODE uses), in the exit status; a passing
// scenario that produced findings says how many on its PASS line.
#include "scenarios/known_names.h"
#include "support/run_process.h"
#include "support/temp_dir.h"
#include "support/contains.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

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
        .globl  trap
trap:
        brk     #0x1
"""
)";

} // namespace

TEST_CASE("a scenario needing an unbuilt feature is skipped in every report and in ctest") {
    std::string unbuilt;
    for (const auto& f : klpemu::scenario::known_features()) {
        if (!f.built) {
            unbuilt = std::string(f.name);
            break;
        }
    }
    if (unbuilt.empty()) {
        MESSAGE("every feature is built: nothing can be skipped");
        return;
    }
    klpemu::test::TempDir dir;
    const auto file = dir.write("s.toml", "[scenario]\nrequires = [\"" + unbuilt + "\"]\n" +
                                              k_kernel + "[[step]]\ndo = \"call add_one 1\"\n")
                          .string();
    auto text = run_klpemu("run " + file);
    CHECK(text.status == 0);
    CHECK(contains(text.output, "SKIP  s ["));
    CHECK(contains(text.output, "0 passed, 0 failed, 0 errors, 1 skipped"));
    CHECK(contains(run_klpemu("run --format ktap " + file).output, "ok 1 s # SKIP requires"));
    CHECK(contains(run_klpemu("run --format junit " + file).output, "<skipped message=\"requires"));
    auto json = nlohmann::json::parse(run_klpemu("run --format json " + file).output);
    CHECK(json["summary"]["skip"] == 1);
    CHECK(run_klpemu("run --skip-exit-code 77 " + file).status == 77);
    // With anything else in the run, the usual status.
    const auto other =
        dir.write("t.toml", std::string(k_kernel) + "[[step]]\ndo = \"call add_one 1\"\n");
    CHECK(run_klpemu("run --update " + other.string()).status == 0);
    CHECK(run_klpemu("run --skip-exit-code 77 " + dir.path().string()).status == 0);
}

TEST_CASE("a passing scenario counts its findings on the PASS line") {
    klpemu::test::TempDir dir;
    const auto file = dir.write("s.toml", std::string(k_kernel) + "[[step]]\ndo = \"call trap\"\n"
                                                                  "[[expect]]\nfinding = \"brk\"\n")
                          .string();
    auto r = run_klpemu("run --update " + file);
    CHECK(r.status == 0);
    CHECK(contains(r.output, "PASS  s ["));
    CHECK(contains(r.output, "cycles, 1 finding, golden updated)"));
    const auto clean =
        dir.write("c.toml", std::string(k_kernel) + "[[step]]\ndo = \"call add_one 1\"\n").string();
    auto c = run_klpemu("run --update " + clean);
    CHECK(!contains(c.output, "finding"));
}
