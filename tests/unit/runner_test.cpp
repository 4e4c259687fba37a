// The runner against a scripted backend: transcript shape, verdicts, goldens and --update.
#include "scenarios/runner.h"

#include "scenarios/chrome_trace.h"
#include "scenarios/golden.h"
#include "support/fake_backend.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>

#include <sstream>

using namespace klpemu;
using namespace klpemu::scenario;

namespace {

// RunOptions that rewrite the golden (a function: aggregate initialisation would warn on every
// field RunOptions gains).
RunOptions update_options() {
    RunOptions o;
    o.update_golden = true;
    return o;
}

RunOptions traced_update_options(ChromeTrace* trace) {
    RunOptions o = update_options();
    o.trace = trace;
    return o;
}

constexpr std::string_view k_scenario = R"([machine]
budget = 1000

[[object]]
name = "vmlinux"
kind = "kernel"
asm = """
add_one:
    add x0, x0, #1
    ret
spin:
    b spin
"""

[[task]]
name = "worker"
entry = "spin"

[[step]]
do = "call add_one 41"

[[step]]
do = "irq 0"
at = 100

[[step]]
do = "log checkpoint"
when = "worker reaches spin"

[[expect]]
call = "add_one"
returns = 42

[[expect]]
log = "checkpoint"
)";

constexpr std::string_view k_transcript = "loaded vmlinux\n"
                                          "task worker started\n"
                                          "% call add_one 41\n"
                                          "add_one(41) = 41\n"
                                          "% at 100: irq 0\n"
                                          "irq on cpu0\n"
                                          "% when worker reaches spin: log checkpoint\n"
                                          "checkpoint\n";

Runner add_one_runner() {
    return Runner(test::fake_factory([](test::FakeBackend& b) {
        b.functions["add_one"] = [](std::span<const uint64_t> a) { return a[0] + 1; };
    }));
}

} // namespace

TEST_CASE("update writes the golden; the next run passes against it") {
    test::TempDir dir;
    const auto file = dir.write("s.toml", k_scenario);
    auto runner = add_one_runner();
    auto first = runner.run_file(file, update_options());
    CHECK(first.status == Status::Pass);
    CHECK(first.golden_updated);
    auto golden = read_golden(golden_path(file));
    REQUIRE(golden.ok());
    REQUIRE(golden->has_value());
    CHECK(**golden == std::string(k_transcript).replace(k_transcript.find("= 41"), 4, "= 42"));

    auto second = runner.run_file(file, RunOptions{});
    CHECK(second.status == Status::Pass);
    CHECK(second.diff.empty());
    CHECK(second.expectations.size() == 2);
    CHECK(second.instructions == 110);
}

TEST_CASE("a wrong result fails its expectation; a changed transcript fails with a diff") {
    test::TempDir dir;
    const auto file = dir.write("s.toml", k_scenario);
    // The default fake returns the sum of the arguments: add_one(41) = 41.
    Runner runner(test::fake_factory());
    REQUIRE(write_golden(golden_path(file), k_transcript).ok());
    auto wrong = runner.run_file(file, RunOptions{});
    CHECK(wrong.status == Status::Fail);
    CHECK(!wrong.expectations[0].passed);
    CHECK(wrong.expectations[0].detail == "add_one(41) returned 41");
    CHECK(wrong.diff.empty());

    auto good = add_one_runner().run_file(file, RunOptions{});
    CHECK(good.status == Status::Fail);
    CHECK(good.diff.find("-add_one(41) = 41\n+add_one(41) = 42\n") != std::string::npos);
    CHECK(good.message.find("transcript differs from") != std::string::npos);
}

TEST_CASE("a missing golden file fails and says how to create it") {
    test::TempDir dir;
    auto r = add_one_runner().run_file(dir.write("s.toml", k_scenario), RunOptions{});
    CHECK(r.status == Status::Fail);
    CHECK(r.message.find("klpemu run --update") != std::string::npos);
}

TEST_CASE("bad input is an error with a location; unbuilt features skip") {
    test::TempDir dir;
    auto runner = add_one_runner();
    auto missing_entry = runner.run_file(
        dir.write("e.toml", "[[object]]\nname = \"k\"\nkind = \"kernel\"\nasm = \"f:\\n\"\n"
                            "[[task]]\nname = \"t\"\nentry = \"nosuch\"\n"),
        RunOptions{});
    CHECK(missing_entry.status == Status::Error);
    CHECK(missing_entry.message.find("e.toml:7:9: error: task 't': entry symbol 'nosuch'") !=
          std::string::npos);

    auto skipped = runner.run_file(dir.write("k.toml", "[scenario]\nrequires = [\"livepatch\"]\n"),
                                   RunOptions{});
    CHECK(skipped.status == Status::Skip);
    CHECK(skipped.message.find("livepatch") != std::string::npos);

    auto syntax = runner.run_file(dir.write("x.toml", "[machine\n"), RunOptions{});
    CHECK(syntax.status == Status::Error);
}

TEST_CASE("the budget stops the timeline and its finding is reported") {
    test::TempDir dir;
    const auto file = dir.write("b.toml", R"([machine]
budget = 50
[[object]]
name = "k"
kind = "kernel"
asm = "spin:\n b spin\n"
[[step]]
do = "run 100"
[[step]]
do = "log never printed"
[[expect]]
finding = "budget-exhausted"
where = "spin"
)");
    auto r = add_one_runner().run_file(file, update_options());
    CHECK(r.status == Status::Pass);
    REQUIRE(r.findings.size() == 1);
    CHECK(r.transcript == "loaded k\n% run 100\n"
                          "error: budget-exhausted: spin+0x4: instruction budget of 50 exhausted\n"
                          "(instruction budget exhausted: 1 step(s) not run)\n");
}

TEST_CASE("an until that can never happen fails the run") {
    test::TempDir dir;
    const auto file = dir.write("u.toml", "[[object]]\nname = \"k\"\nkind = \"kernel\"\n"
                                          "asm = \"never:\\n\"\n[[step]]\ndo = \"until never\"\n");
    auto r = add_one_runner().run_file(file, update_options());
    CHECK(r.status == Status::Fail);
    CHECK(r.message.find("u.toml:6:7: 'until never' never happened") != std::string::npos);
}

TEST_CASE("findings become trace instants on their task's track") {
    test::TempDir dir;
    const auto file = dir.write("b.toml", "[machine]\nbudget = 5\n[[object]]\nname = \"k\"\n"
                                          "kind = \"kernel\"\nasm = \"spin:\\n\"\n[[step]]\n"
                                          "do = \"run 10\"\n");
    std::ostringstream out;
    ChromeTrace trace(out);
    (void)add_one_runner().run_file(file, traced_update_options(&trace));
    CHECK(trace.finish());
    const auto json = out.str();
    CHECK(json.find("\"budget-exhausted\"") != std::string::npos);
    CHECK(json.find("\"ph\":\"i\"") != std::string::npos);
}

TEST_CASE("running out of tasks ends `run N` normally but leaves a later trigger unreached") {
    test::TempDir dir;
    const auto file = dir.write("i.toml", "[[object]]\nname = \"k\"\nkind = \"kernel\"\n"
                                          "asm = \"f:\\n\"\n[[step]]\ndo = \"run 10\"\nat = 5\n"
                                          "[[step]]\ndo = \"log late\"\nat = 100\n");
    Runner runner(test::fake_factory([](test::FakeBackend& b) { b.idle_at = 8; }));
    auto r = runner.run_file(file, update_options());
    CHECK(r.status == Status::Fail);
    INFO(r.message);
    CHECK(r.message.find("i.toml:9:7: 'at 100: log late' never happened") != std::string::npos);
    CHECK(r.transcript == "loaded k\n% at 5: run 10\n% at 100: log late\n"
                          "(never reached: every task has exited or is blocked)\n");
}
