// The incremental reliability checker against its reference: the whole bundled scenario library
// run with every unwinder policy, once as `klpemu run` checks (memoised walks, store tracking,
// reused verdicts) and once with `--full-walk` (every policy walks from scratch at every
// boundary). Statistics per policy and per function, every unsound boundary, every transition
// verdict, every finding with its message, and every scenario's verdict must be identical: any
// cache that keeps a walk or a verdict past the moment it stopped being true shows up here as a
// difference. The JSON report carries all of it (the --report unwind text is the same data
// formatted), so one pair of runs is enough; they run side by side. This is the longest test
// of the suite, so tests/CMakeLists.txt gives it a timeout of its own.
#include "support/subprocess.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <future>
#include <set>
#include <string>
#include <vector>

using klpemu::test::run_process;

namespace {

klpemu::test::ProcessResult run_library(const std::vector<std::string>& extra) {
    std::vector<std::string> argv{KLPEMU_BINARY, "run", "--policies", "all", "--format", "json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv);
}

} // namespace

TEST_CASE("incremental and full-walk checking agree on every bundled scenario") {
    auto full_run = std::async(std::launch::async, [] { return run_library({"--full-walk"}); });
    const auto incremental = run_library({});
    const auto full = full_run.get();
    INFO(incremental.err);
    INFO(full.err);
    REQUIRE(incremental.exit_status == 0);
    REQUIRE(full.exit_status == 0);
    const auto a = nlohmann::json::parse(incremental.out);
    const auto b = nlohmann::json::parse(full.out);
    REQUIRE(a["scenarios"].size() == b["scenarios"].size());
    size_t unsound = 0;
    size_t function_rows = 0;
    std::set<std::string> policies;
    for (size_t i = 0; i < a["scenarios"].size(); ++i) {
        const auto& sa = a["scenarios"][i];
        const auto& sb = b["scenarios"][i];
        CAPTURE(sa["file"].get<std::string>());
        CHECK(sa["status"] == sb["status"]);
        if (sa["status"] == "skip") {
            continue; // Never run (test-kprobe: arm64 has no KPROBES_ON_FTRACE).
        }
        CHECK(sa["findings"] == sb["findings"]);
        CHECK(sa["stats"] == sb["stats"]); // Counts, unsound_at, functions, transition.
        for (const auto& [policy, s] : sa["stats"]["unwind"].items()) {
            policies.insert(policy);
            unsound += s["unsound"].get<size_t>();
            function_rows += s["functions"].size();
        }
    }
    // The comparison has something to compare: every policy ran, fp-naive and seed-v4 are
    // wrong in places, and the per-function rows are there.
    CHECK(policies == std::set<std::string>{"cfi", "fp-naive", "kunwind", "seed-v4"});
    CHECK(unsound > 0);
    CHECK(function_rows > 0);
}
