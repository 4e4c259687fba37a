// Reverse execution is exact: the state a stepping session shows after going back to
// instruction N equals the state a fresh session shows after running forward to N, for every
// part of the machine and the engine a user can look at: every CPU's general and FP/SIMD
// registers and cycle counter, all guest RAM, every task (state, patch_state,
// TIF_PATCH_PENDING, counters), the ground truth of every task, the findings of the machine and
// of every unwinder policy, and the transcript. The scenario takes IRQs, writes text and runs a
// livepatch transition before N (tests/data/step/reverse-exact.toml).
#include "emu/machine.h"
#include "scenarios/step_session.h"
#include "scenarios/unwind_check.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

using namespace klpemu;
using namespace klpemu::scenario;

namespace {

const std::filesystem::path kScenario =
    std::filesystem::path(KLPEMU_TEST_DATA) / "step/reverse-exact.toml";

std::unique_ptr<StepSession> open_session() {
    auto s = StepSession::open(kScenario);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return std::move(*s);
}

// Everything observable at a stop, as comparable values.
struct Observed {
    uint64_t clock = 0;
    int cpu = -1;
    int task = -1;
    uint64_t pc = 0;
    std::vector<emu::CpuState> cpus;
    std::vector<emu::FpState> fp;
    std::vector<uint64_t> cycles;
    std::vector<size_t> ram; // A hash per guest memory region.
    std::vector<std::string> tasks;
    std::vector<std::string> truth;
    std::vector<std::string> findings;
    std::vector<std::string> transcript;
    uint64_t text_writes = 0;

    bool operator==(const Observed&) const = default;
};

Observed observe(const StepSession& s) {
    const emu::Machine& m = *s.access().machine;
    Observed o;
    o.clock = s.stop().clock;
    o.cpu = s.stop().cpu;
    o.task = s.stop().task;
    o.pc = s.stop().pc.value;
    for (int cpu = 0; cpu < m.cpu_count(); ++cpu) {
        o.cpus.push_back(m.cpu_state(cpu));
        o.fp.push_back(m.fp_state(cpu));
        o.cycles.push_back(m.cpu_cycles(cpu));
    }
    for (const auto& region : m.memory().regions()) {
        o.ram.push_back(std::hash<std::string_view>{}(
            std::string_view(reinterpret_cast<const char*>(region->host), region->range.size())));
    }
    for (int id = 0; id < m.task_count(); ++id) {
        const emu::Task& t = m.task(id);
        o.tasks.push_back(fmt::format("{} state={} patch_state={} pending={} insns={} cycles={}",
                                      t.name, int(t.state), int(t.patch_state), t.tif_patch_pending,
                                      t.instructions, t.cycles));
        if (const auto* truth = s.access().unwind->checker().truth(id)) {
            std::string frames;
            for (const auto& f : truth->frames()) {
                frames += fmt::format(" {:#x}/{}", f.return_address.value, int(f.kind));
            }
            o.truth.push_back(fmt::format("{}:{}", t.name, frames));
        }
    }
    auto add = [&](const Finding& f) {
        o.findings.push_back(
            fmt::format("{} {} #{} {}", f.kind, f.where, f.instruction, f.message));
    };
    for (const Finding& f : m.findings()) {
        add(f);
    }
    for (const Finding& f : s.access().unwind->checker().findings()) {
        add(f);
    }
    o.transcript = s.events();
    o.text_writes = m.text_writes();
    return o;
}

void check_equal(const Observed& a, const Observed& b) {
    CHECK(a.clock == b.clock);
    CHECK(a.cpu == b.cpu);
    CHECK(a.task == b.task);
    CHECK(a.pc == b.pc);
    REQUIRE(a.cpus.size() == b.cpus.size());
    for (size_t i = 0; i < a.cpus.size(); ++i) {
        CHECK_MESSAGE(a.cpus[i] == b.cpus[i],
                      fmt::format("cpu{}: {}", i, fmt::join(a.cpus[i].diff(b.cpus[i]), "; ")));
    }
    CHECK(a.fp == b.fp);
    CHECK(a.cycles == b.cycles);
    CHECK(a.ram == b.ram);
    CHECK(a.tasks == b.tasks);
    CHECK(a.truth == b.truth);
    CHECK(a.findings == b.findings);
    CHECK(a.transcript == b.transcript);
    CHECK(a.text_writes == b.text_writes);
    CHECK(a == b);
}

} // namespace

TEST_CASE("step reverse: going back to N gives the state a forward run to N gives") {
    // Forward, stopping at every IRQ and transition step on the way (the path a user takes).
    auto s = open_session();
    s->conditions().events.irq = true;
    REQUIRE(s->resume(ResumeRules{}).ok());
    REQUIRE(s->stop().reason.starts_with("event irq"));
    const uint64_t first_irq = s->stop().clock;
    s->conditions().events = EventBreaks{};
    s->conditions().events.transition = true;
    REQUIRE(s->resume(ResumeRules{}).ok());
    REQUIRE(s->stop().reason.starts_with("event transition"));
    s->conditions().events = EventBreaks{};
    const uint64_t n = s->stop().clock + 3000; // Past the second round of IRQs.
    REQUIRE(s->go_to_clock(n).ok());
    const Observed forward = observe(*s);
    // What N has behind it: IRQs, text writes, a transition that switched tasks but not all.
    CHECK(first_irq < n);
    CHECK(forward.text_writes > 0);
    const emu::Machine& m = *s->access().machine;
    bool pending = false;
    bool switched = false;
    for (int id = 0; id < m.task_count(); ++id) {
        pending |= m.task(id).tif_patch_pending;
        switched |= m.task(id).patch_state == emu::PatchState::Patched;
    }
    CHECK(pending);
    CHECK(switched);

    // On, then back: `back N` and `reverse-stepi` land here through go_to_clock.
    REQUIRE(s->go_to_clock(n + 4000).ok());
    REQUIRE(s->stop().clock == n + 4000);
    const uint64_t replays = s->replays();
    REQUIRE(s->go_to_clock(n).ok());
    CHECK(s->replays() == replays + 1);
    check_equal(forward, observe(*s));

    // Per-task reverse stepping: the focused task's previous instruction, then one forward
    // step of the machine lands where we were.
    const int task = s->stop().task;
    const auto prev = s->previous_instruction(task, n);
    REQUIRE(prev.has_value());
    REQUIRE(s->go_to_clock(*prev).ok());
    CHECK(s->stop().task == task);
    REQUIRE(s->go_to_clock(n).ok());
    check_equal(forward, observe(*s));

    // A fresh session that runs straight to N without stopping on the way.
    auto fresh = open_session();
    REQUIRE(fresh->go_to_clock(n).ok());
    check_equal(forward, observe(*fresh));
}
