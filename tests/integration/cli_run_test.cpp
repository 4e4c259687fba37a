// `klpemu run` end to end: the bundled library passes from any directory, scenarios that must
// fail exit 1 and show why (the expectation or the unified diff), malformed scenarios exit 2
// with file:line:column, and the report formats and --trace/--update work on real runs.
#include "support/run_process.h"
#include "support/temp_dir.h"
#include "support/contains.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using klpemu::test::run_klpemu;

using klpemu::test::contains;

namespace {

const std::string k_data = std::string(KLPEMU_TEST_DATA) + "/scenarios";

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace

TEST_CASE("klpemu run --kernel reads every scenario for that era and skips the goldens") {
    const std::string file = std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/own/args-6.17.toml";
    // The scenario pins kernel 6.17; its golden (6.17's transcript) is not compared on 6.5, and
    // its expectations hold there too.
    auto r = run_klpemu("run --kernel 6.5 " + file);
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(contains(r.output, "PASS  own-args-6.17"));
    CHECK(contains(r.output, "(kernel 6.5,"));
    auto bad = run_klpemu("run --kernel 6.6 " + file);
    CHECK(bad.status == 2);
    CHECK(contains(bad.output, "--kernel: unknown kernel '6.6' (expected one of"));
    // An empty era (a shell variable that was never set) is an error, not "no override".
    const auto empty = klpemu::test::run_process({KLPEMU_BINARY, "run", "--kernel", "", file});
    CHECK(empty.exit_status == 2);
    CHECK(contains(empty.out + empty.err, "--kernel: unknown kernel '' (expected one of"));
    auto update = run_klpemu("run --update --kernel 6.5 " + file);
    CHECK(update.status == 2);
}

TEST_CASE("klpemu run with no argument runs the bundled library from any directory") {
    klpemu::test::TempDir elsewhere;
    auto r = run_klpemu("run", elsewhere.path().string());
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(contains(r.output, "PASS  calls across objects"));
    CHECK(contains(r.output, " 0 failed, 0 errors"));
}

TEST_CASE("a wrong expected return value exits 1 and names the expectation") {
    auto r = run_klpemu("run " + k_data + "/fail/wrong_return.toml");
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "wrong_return.toml:19:1: expectation failed: add_one(41) returns 43: "
                             "add_one(41) returned 42"));
}

TEST_CASE("a transcript mismatch exits 1 and shows the unified diff") {
    auto r = run_klpemu("run " + k_data + "/fail/transcript_mismatch.toml");
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "--- " + k_data + "/fail/transcript_mismatch.expected\n+++ transcript\n"));
    CHECK(contains(r.output, "@@ -1,2 +1,2 @@\n % call add_one 1\n-add_one(1) = 3\n+add_one(1) = 2\n"));
}

TEST_CASE("malformed scenarios exit 2 with file:line:column") {
    const std::string bad = k_data + "/bad/";
    struct Case {
        const char* file;
        const char* message;
    };
    const Case cases[] = {
        {"syntax_error.toml", "syntax_error.toml:4:7: error: TOML syntax:"},
        {"unknown_key.toml", "unknown_key.toml:3:1: error: unknown key 'quantim' in [machine]; "
                             "expected one of: cpus, core, seed, quantum, budget, ftrace, unwinder"},
        {"unknown_ftrace.toml", "unknown_ftrace.toml:2:10: error: [machine] ftrace: unknown value "
                                "\"regs-v9\"; expected one of: regs-v3, regs-v4, regs, args, call-ops"},
        {"missing_entry.toml", "missing_entry.toml:12:9: error: task 'worker': entry symbol "
                               "'absent' is not defined by any loaded object"},
        {"asm_error.toml", "asm_error.toml:8:9: error: unrecognized instruction mnemonic"},
    };
    for (const auto& c : cases) {
        auto r = run_klpemu("run " + bad + c.file);
        INFO(c.file, "\n", r.output);
        CHECK(r.status == 2);
        CHECK(contains(r.output, bad + c.message));
    }
}

TEST_CASE("a directory runs every scenario in it, sorted; any error makes the status 2") {
    auto r = run_klpemu("run --format json " + k_data);
    CHECK(r.status == 2);
    const auto j = nlohmann::json::parse(r.output);
    REQUIRE(j["scenarios"].size() == 7);
    CHECK(j["scenarios"][0]["name"] == "asm_error");
    CHECK(j["scenarios"][5]["name"] == "transcript_mismatch");
    CHECK(j["summary"] == nlohmann::json{{"pass", 0}, {"fail", 2}, {"error", 5}, {"skip", 0}});
}

TEST_CASE("JSON lists every finding, expected or not, next to the expectation it satisfies") {
    auto r = run_klpemu("run --format json " + std::string(KLPEMU_SOURCE_ROOT) +
                        "/scenarios/basics/runaway_budget.toml");
    CHECK(r.status == 0);
    const auto j = nlohmann::json::parse(r.output);
    const auto& s = j["scenarios"][0];
    CHECK(s["status"] == "pass");
    REQUIRE(s["findings"].size() == 1);
    CHECK(s["findings"][0]["kind"] == "budget-exhausted");
    CHECK(s["findings"][0]["where"] == "spin_forever+0xc");
    CHECK(s["expectations"][0]["text"] == "finding budget-exhausted at spin_forever");
    CHECK(s["expectations"][0]["status"] == "pass");
    CHECK(s["stats"]["instructions"] == 2000);
}

TEST_CASE("KTAP and JUnit on real runs") {
    const std::string basics = std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/basics";
    auto ktap = run_klpemu("run --format ktap " + basics);
    CHECK(ktap.status == 0);
    CHECK(ktap.output.starts_with("KTAP version 1\n1..6\n"));
    CHECK(contains(ktap.output, "\nok 1 calls across objects\n"));
    auto junit = run_klpemu("run --format junit " + basics);
    CHECK(junit.status == 0);
    CHECK(junit.output.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"6\""));
}

TEST_CASE("--trace writes Chrome trace events: X spans per task and CPU, i instants for findings") {
    klpemu::test::TempDir dir;
    const auto trace = dir.path() / "trace.json";
    const std::string basics = std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/basics";
    auto r = run_klpemu("run --trace " + trace.string() + " " + basics + "/calls_across_objects.toml " +
                        basics + "/runaway_budget.toml");
    CHECK(r.status == 0);
    const auto j = nlohmann::json::parse(read_file(trace));
    REQUIRE(j.contains("traceEvents"));
    bool kernel_add_span = false;
    bool task_span = false;
    bool finding_instant = false;
    for (const auto& e : j["traceEvents"]) {
        if (e["ph"] == "X" && e["name"] == "kernel_add") {
            kernel_add_span = true;
        }
        if (e["ph"] == "X" && e["cat"] == "task") {
            task_span = true;
        }
        if (e["ph"] == "i" && e["name"] == "budget-exhausted") {
            finding_instant = true;
        }
    }
    CHECK(kernel_add_span);
    CHECK(task_span);
    CHECK(finding_instant);

    // A trace path that cannot be written is refused before anything runs.
    const auto bad = (dir.path() / "no-such-dir" / "t.json").string();
    auto refused = run_klpemu("run --trace " + bad + " " + basics + "/calls_across_objects.toml");
    CHECK(refused.status == 2);
    CHECK(contains(refused.output, "cannot write trace file " + bad));
    CHECK_FALSE(contains(refused.output, "PASS"));
}

TEST_CASE("--update rewrites the golden transcript, after which the scenario passes") {
    klpemu::test::TempDir dir;
    std::filesystem::copy_file(k_data + "/fail/transcript_mismatch.toml", dir.path() / "s.toml");
    std::filesystem::copy_file(k_data + "/fail/transcript_mismatch.expected", dir.path() / "s.expected");
    const auto file = (dir.path() / "s.toml").string();
    CHECK(run_klpemu("run " + file).status == 1);
    auto update = run_klpemu("run --update " + file);
    CHECK(update.status == 0);
    CHECK(contains(update.output, "golden updated"));
    CHECK(read_file(dir.path() / "s.expected") == "% call add_one 1\nadd_one(1) = 2\n");
    CHECK(run_klpemu("run " + file).status == 0);
}

TEST_CASE("bad command lines and missing paths exit 2") {
    CHECK(run_klpemu("run --format yaml").status == 2);
    auto missing = run_klpemu("run /nonexistent/x.toml");
    CHECK(missing.status == 2);
    CHECK(contains(missing.output, "/nonexistent/x.toml: error: no such scenario file or directory"));
}
