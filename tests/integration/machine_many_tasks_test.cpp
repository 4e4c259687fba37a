// Task stacks: each `call` in a scenario creates a task, and each stack was once its own Unicorn
// region, so a scenario with ~1020 calls aborted the whole process inside QEMU. Stacks of
// finished tasks are reused now; only tasks alive at once count, and past the limit creating a
// task is an error, not an abort.
#include "machine_test_util.h"
#include "scenarios/machine_backend.h"
#include "scenarios/runner.h"
#include "scenarios/scenario_parser.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

using namespace klpemu;
using namespace klpemu::test;

TEST_CASE("a scenario with 10,000 calls runs to the end") {
    constexpr int kCalls = 10'000;
    std::string text = R"(
[[object]]
name = "vmlinux"
kind = "kernel"
asm = """
.globl add_one
add_one:
    add x0, x0, #1
    ret
"""
)";
    for (int i = 0; i < kCalls; ++i) {
        text += fmt::format("[[step]]\ndo = \"call add_one {}\"\n", i);
    }
    text += "[[expect]]\ncall = \"add_one\"\nargs = [41]\nreturns = 42\n";
    TempDir scratch;
    auto parsed = scenario::parse_scenario_text(text, scratch.path() / "many.toml");
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    scenario::Runner runner(scenario::machine_backend_factory());
    scenario::RunOptions options;
    options.update_golden = true;
    const auto result = runner.run(*parsed, options);
    INFO(result.message);
    CHECK(scenario::status_name(result.status) == std::string_view("pass"));
    // Every call's result is in the transcript, the last one included.
    CHECK(result.transcript.find("add_one(9999) = 10000") != std::string::npos);
}

TEST_CASE("a finished task's stack is reused, zeroed") {
    auto m = make_machine();
    load_asm(*m, ".globl f\nf:\n    sub sp, sp, #16\n    str x0, [sp]\n    add sp, sp, #16\n    ret\n");
    REQUIRE(m->call(sym(*m, "f"), {0x1234}).ok());
    const GuestRange first = m->task(m->task_count() - 1).stack;
    REQUIRE(m->call(sym(*m, "f"), {0x5678}).ok());
    const GuestRange second = m->task(m->task_count() - 1).stack;
    CHECK(first == second);
    REQUIRE(m->create_task(emu::TaskSpec{"t", emu::TaskKind::Kthread, sym(*m, "f")}).ok());
    // The old frame's 0x5678 is gone: the only non-zero words are the new task's terminal
    // frame type (its fp/lr are zero).
    const emu::Task& t = m->task(m->task_count() - 1);
    CHECK(t.stack == first);
    int nonzero = 0;
    for (GuestAddr a = t.stack.begin; a < t.stack.end; a += 8) {
        nonzero += m->memory().load<uint64_t>(a) != 0;
    }
    CHECK(nonzero == 1);
}

TEST_CASE("too many tasks alive at once is an error naming the task, not an abort") {
    auto m = make_machine();
    load_asm(*m, ".globl f\nf:\n    ret\n");
    Result<int> last = 0;
    int created = 0;
    for (size_t i = 0; i < emu::kMaxLiveTasks + 10 && last.ok(); ++i) {
        last = m->create_task(
            emu::TaskSpec{fmt::format("t{}", i), emu::TaskKind::Kthread, sym(*m, "f")});
        created += last.ok();
    }
    REQUIRE(!last.ok());
    CHECK(created == int(emu::kMaxLiveTasks) - 1); // The idle task holds one stack.
    CHECK(last.error().message.find("cannot create task 't511': 512 tasks are alive at once") !=
          std::string::npos);
    // Once they have run, their stacks are free again.
    REQUIRE(m->run().ok());
    CHECK(m->create_task(emu::TaskSpec{"again", emu::TaskKind::Kthread, sym(*m, "f")}).ok());
}
