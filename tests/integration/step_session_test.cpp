// The stepping session behind `klpemu step` and `klpemu gdb` on a real scenario: stops are
// exact instruction boundaries, one step is one instruction, going back by replay lands on the
// identical machine state, and breakpoints, event breaks and interrupts stop where they say.
#include "emu/machine.h"
#include "scenarios/step_session.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace klpemu;
using namespace klpemu::scenario;

namespace {

const std::filesystem::path kScenario =
    std::filesystem::path(KLPEMU_SOURCE_ROOT) / "scenarios/seed/mark-windows-regs.toml";

std::unique_ptr<StepSession> open_session() {
    auto s = StepSession::open(kScenario);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return std::move(*s);
}

GuestAddr symbol(StepSession& s, const char* name) {
    auto sym = s.access().machine->symbols().lookup(name);
    REQUIRE(sym.has_value());
    return sym->addr;
}

} // namespace

TEST_CASE("step session: opens before the first timeline step") {
    auto s = open_session();
    CHECK(s->stop().at == StopAt::StepBoundary);
    CHECK(s->stop().steps_started == 0);
    CHECK(s->stop().clock == 0);
}

TEST_CASE("step session: single steps are single instructions and match a straight run") {
    auto s = open_session();
    REQUIRE(s->go_to_clock(60).ok());
    REQUIRE(s->stop().at == StopAt::Instruction);
    const int task = s->stop().task;
    const GuestAddr pc60 = s->stop().pc;
    const emu::CpuState state60 = s->access().machine->cpu_state(s->stop().cpu);

    // Back to 40 (a replay), then forward one instruction at a time.
    REQUIRE(s->go_to_clock(40).ok());
    CHECK(s->replays() == 1);
    CHECK(s->stop().clock == 40);
    for (uint64_t clock = 41; clock <= 60; ++clock) {
        ResumeRules one;
        one.step_task = task;
        one.task_steps = 1;
        REQUIRE(s->resume(one).ok());
        REQUIRE(s->stop().at == StopAt::Instruction);
        CHECK(s->stop().clock == clock); // One task runs: its next instruction is the next one.
    }
    CHECK(s->stop().pc == pc60);
    const emu::CpuState again = s->access().machine->cpu_state(s->stop().cpu);
    CHECK_MESSAGE(again == state60, fmt::format("{}", fmt::join(again.diff(state60), "; ")));
}

TEST_CASE("step session: a breakpoint stops before the instruction runs; reverse lands exactly") {
    auto s = open_session();
    const GuestAddr leaf = symbol(*s, "leaf");
    s->conditions().breakpoints.push_back(Breakpoint{1, leaf, -1});
    REQUIRE(s->resume(ResumeRules{}).ok());
    REQUIRE(s->stop().at == StopAt::Instruction);
    CHECK(s->stop().pc == leaf);
    CHECK(s->stop().reason == "breakpoint 1");
    const uint64_t first = s->stop().clock;
    const emu::CpuState at_leaf = s->access().machine->cpu_state(s->stop().cpu);
    CHECK(at_leaf.pc == leaf.value); // Not executed yet.

    REQUIRE(s->resume(ResumeRules{}).ok()); // The second call of leaf.
    CHECK(s->stop().pc == leaf);
    CHECK(s->stop().clock > first);

    auto hit = s->last_condition_hit(s->stop().clock);
    REQUIRE(hit.ok());
    REQUIRE(hit->has_value());
    CHECK((*hit)->clock == first);
    CHECK((*hit)->reason == "breakpoint 1");
    REQUIRE(s->go_to_clock(first).ok());
    CHECK(s->stop().pc == leaf);
    const emu::CpuState replayed = s->access().machine->cpu_state(s->stop().cpu);
    CHECK(replayed == at_leaf);
}

TEST_CASE("step session: the previous instruction of a task comes from the history") {
    auto s = open_session();
    REQUIRE(s->go_to_clock(50).ok());
    const int task = s->stop().task;
    auto prev = s->previous_instruction(task, 50);
    REQUIRE(prev.has_value());
    CHECK(*prev == 49);
    CHECK_FALSE(s->previous_instruction(task, 0).has_value());
}

TEST_CASE("step session: event breaks and interrupts") {
    auto s = open_session();
    SUBCASE("a text write stops at the next instruction with the write named") {
        s->conditions().events.patch = true;
        REQUIRE(s->resume(ResumeRules{}).ok());
        REQUIRE(s->stop().at == StopAt::Instruction);
        CHECK(s->stop().reason.starts_with("event patch: patch "));
    }
    SUBCASE("a finding stops the run") {
        s->conditions().events.finding = true;
        REQUIRE(s->resume(ResumeRules{}).ok());
        CHECK(s->stop().reason.starts_with("event finding: unsound-reliable-trace"));
    }
    SUBCASE("a watchpoint stops after the instruction that changed the value") {
        REQUIRE(s->go_to_clock(20).ok());
        const uint64_t sp = s->access().machine->cpu_state(s->stop().cpu).sp;
        s->conditions().watchpoints.push_back(Watchpoint{2, GuestAddr(sp - 16), 8});
        REQUIRE(s->resume(ResumeRules{}).ok());
        CHECK(s->stop().reason.starts_with("watchpoint 2:"));
    }
}

TEST_CASE("step session: a read watchpoint stops after the load that read the bytes") {
    auto s = open_session();
    s->conditions().breakpoints.push_back(Breakpoint{1, symbol(*s, "leaf"), -1});
    REQUIRE(s->resume(ResumeRules{}).ok());
    // leaf's caller saved its frame record {x29, x30} at x29; its epilogue loads it back.
    const uint64_t record = s->access().machine->cpu_state(s->stop().cpu).x[29];
    s->conditions().breakpoints.clear();
    s->conditions().watchpoints.push_back(Watchpoint{2, GuestAddr(record), 16, WatchKind::Read});
    REQUIRE(s->resume(ResumeRules{}).ok());
    REQUIRE(s->stop().at == StopAt::Instruction);
    CHECK(s->stop().reason.starts_with("watchpoint 2: "));
    CHECK(s->stop().reason.ends_with(" read"));
    // The instruction before the stop is the load.
    const uint64_t prev = *s->previous_instruction(s->stop().task, s->stop().clock);
    REQUIRE(s->go_to_clock(prev).ok());
    const uint32_t word = s->access().machine->memory().load<uint32_t>(s->stop().pc);
    CHECK((word & 0x3a400000) == 0x28400000); // ldp (load pair)
}

TEST_CASE("step session: an interrupt from the poll ends a continue at the next instruction") {
    // A task that loops until a budget of 50 million instructions: the poll (every ~20 ms of
    // running) interrupts it long before.
    std::ifstream in(std::filesystem::path(KLPEMU_SOURCE_ROOT) /
                     "scenarios/basics/runaway_budget.toml");
    std::stringstream text;
    text << in.rdbuf();
    std::string toml = text.str();
    const size_t at = toml.find("budget = 2000");
    REQUIRE(at != std::string::npos);
    toml.replace(at, 13, "budget = 50000000");
    klpemu::test::TempDir dir;
    auto opened = StepSession::open(dir.write("runaway.toml", toml));
    REQUIRE(opened.ok());
    auto& s = *opened;
    StepSession* raw = s.get();
    s->set_poll([raw] { raw->interrupt(); });
    ResumeRules rules;
    rules.step_boundaries = false;
    REQUIRE(s->resume(rules).ok());
    CHECK(s->stop().at == StopAt::Instruction);
    CHECK(s->stop().reason == "interrupted");
}

TEST_CASE("step session: bad scenarios are errors, not crashes") {
    auto missing = StepSession::open("/nonexistent/scenario.toml");
    CHECK_FALSE(missing.ok());
}
