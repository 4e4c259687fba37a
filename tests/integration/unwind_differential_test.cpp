// The incremental reliability checker against its reference: the whole bundled scenario library
// run with every unwinder policy, once as `klpemu run` checks (memoised walks, store tracking,
// reused verdicts) and once with `--full-walk` (every policy walks from scratch at every
// boundary). Statistics per policy and per function, every unsound boundary, every finding with
// its message, and every verdict must be identical: any cache that keeps a walk or a verdict
// past the moment it stopped being true shows up here as a difference.
#include "support/subprocess.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using klpemu::test::run_process;

namespace {

klpemu::test::ProcessResult run_library(const std::vector<std::string>& extra) {
    std::vector<std::string> argv{KLPEMU_BINARY, "run", "--policies", "all"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv);
}

} // namespace

TEST_CASE("incremental and full-walk checking agree on every bundled scenario: text report "
          "with per-function statistics") {
    const auto incremental = run_library({"--report", "unwind"});
    const auto full = run_library({"--report", "unwind", "--full-walk"});
    INFO(incremental.err);
    INFO(full.err);
    REQUIRE(incremental.exit_status == 0);
    REQUIRE(full.exit_status == 0);
    // The report really carries per-function rows of every policy.
    for (const char* policy : {"fp-naive", "seed-v4", "kunwind", "cfi"}) {
        CHECK(incremental.out.find(std::string(policy) + " ") != std::string::npos);
    }
    CHECK(incremental.out.find("# unwind report") != std::string::npos);
    CHECK(incremental.out == full.out);
}

TEST_CASE("incremental and full-walk checking agree on every bundled scenario: JSON findings "
          "and counts") {
    const auto incremental = run_library({"--format", "json"});
    const auto full = run_library({"--format", "json", "--full-walk"});
    REQUIRE(incremental.exit_status == 0);
    REQUIRE(full.exit_status == 0);
    const auto a = nlohmann::json::parse(incremental.out);
    const auto b = nlohmann::json::parse(full.out);
    REQUIRE(a["scenarios"].size() == b["scenarios"].size());
    size_t unsound = 0;
    for (size_t i = 0; i < a["scenarios"].size(); ++i) {
        const auto& sa = a["scenarios"][i];
        const auto& sb = b["scenarios"][i];
        CAPTURE(sa["file"].get<std::string>());
        CHECK(sa["status"] == sb["status"]);
        if (sa["status"] == "skip") {
            continue; // Never run (test-kprobe: arm64 has no KPROBES_ON_FTRACE).
        }
        CHECK(sa["findings"] == sb["findings"]);
        CHECK(sa["stats"] == sb["stats"]);
        for (const auto& [policy, s] : sa["stats"]["unwind"].items()) {
            unsound += s["unsound"].get<size_t>();
        }
    }
    // The library has unsound boundaries to agree on (fp-naive and seed-v4 are wrong in places).
    CHECK(unsound > 0);
}
