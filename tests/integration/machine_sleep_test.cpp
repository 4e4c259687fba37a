// Sleeping in schedule() (emu/machine_run.cpp, Machine::hc_schedule): a task whose __state is not
// TASK_RUNNING blocks until wake_up(), and its CPU idles; with a timer armed it yields instead; a
// wake-up between set_current_state() and schedule() keeps it from sleeping at all. And the clock
// of an idle machine: pass_idle_time() lets time pass with no instruction run.
#include "machine_test_util.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::emu;
using klpemu::test::load_asm;
using klpemu::test::make_machine;
using klpemu::test::sym;

namespace {

constexpr uint16_t kSetState = 0x200; // set_current_state(x0)
constexpr uint16_t kArmTimer = 0x201; // the caller's timer_at = x0
constexpr uint16_t kWakeSelf = 0x202; // wake_up(current), as a signal arriving now would

// sleep_once(state, timer): set_current_state(state), arm the timer if nonzero, schedule()
// three times, return 7. wake_before(state): set_current_state(state), woken, schedule(),
// return 9.
constexpr std::string_view kSleepers = R"(
        .text
        .globl sleep_once, wake_before
sleep_once:
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        hvc     #0x200
        mov     x0, x1
        cbz     x0, 1f
        hvc     #0x201
1:      mov     x19, #3
2:      bl      schedule
        subs    x19, x19, #1
        b.ne    2b
        mov     x0, #7
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
wake_before:
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        hvc     #0x200
        hvc     #0x202
        bl      schedule
        mov     x0, #9
        ldp     x29, x30, [sp], #16
        ret
)";

std::unique_ptr<Machine> sleep_machine(MachineConfig cfg = {}) {
    auto m = make_machine(cfg);
    load_asm(*m, kSleepers);
    Machine* raw = m.get();
    m->register_host_call(kSetState,
                          [](HostCallContext& c) { c.task().sleep_state = uint32_t(c.arg(0)); });
    m->register_host_call(kArmTimer, [](HostCallContext& c) { c.task().timer_at = c.arg(0); });
    m->register_host_call(kWakeSelf, [raw](HostCallContext& c) { raw->wake_up(c.task().id); });
    return m;
}

constexpr uint64_t kUninterruptible = 2;

} // namespace

TEST_CASE("machine: a sleep without a timer blocks in schedule() until wake_up()") {
    auto m = sleep_machine();
    const int id = *m->create_task(
        {"d", TaskKind::Kthread, sym(*m, "sleep_once"), {kUninterruptible, 0}, 0, 1});
    auto r = m->run(100'000);
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::AllBlocked); // Not the instruction limit: the CPU idles.
    const Task& t = m->task(id);
    CHECK(t.state == TaskState::Blocked);
    CHECK(m->current_task(0) != id);
    CHECK(m->symbolize(GuestAddr(t.saved.pc)).base == "schedule");
    const uint64_t clock = m->instructions();
    CHECK(clock < 200);

    // Nothing happens while it sleeps: running again changes nothing.
    auto again = m->run(100'000);
    REQUIRE(again.ok());
    CHECK(again->reason == StopReason::AllBlocked);
    CHECK(m->instructions() == clock);

    m->wake_up(id);
    CHECK(t.state == TaskState::Runnable);
    CHECK(t.sleep_state == 0);
    auto done = m->run();
    REQUIRE(done.ok());
    CHECK(done->reason == StopReason::AllTasksFinished);
    CHECK(t.exit_value == 7); // Woken, its next schedule() calls run with TASK_RUNNING.
    CHECK(m->findings().empty());
}

TEST_CASE("machine: a blocked task leaves its CPU to the others") {
    auto m = sleep_machine();
    const int d = *m->create_task(
        {"d", TaskKind::Kthread, sym(*m, "sleep_once"), {kUninterruptible, 0}, 0, 1});
    const int w = *m->create_task({"w", TaskKind::Kthread, sym(*m, "sleep_once"), {0, 0}, 0, 1});
    auto r = m->run(100'000);
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::AllBlocked);
    CHECK(m->task(w).state == TaskState::Exited);
    CHECK(m->task(w).exit_value == 7);
    CHECK(m->task(d).state == TaskState::Blocked);
}

TEST_CASE("machine: a timed sleep yields in schedule() and stays runnable") {
    auto m = sleep_machine();
    const int id = *m->create_task(
        {"t", TaskKind::Kthread, sym(*m, "sleep_once"), {kUninterruptible, 1'000'000}, 0, 1});
    auto r = m->run(100'000);
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::AllTasksFinished);
    CHECK(m->task(id).exit_value == 7);
}

TEST_CASE("machine: a wake-up between set_current_state() and schedule() keeps the task awake") {
    auto m = sleep_machine();
    const int id =
        *m->create_task({"s", TaskKind::Kthread, sym(*m, "wake_before"), {kUninterruptible}, 0, 1});
    auto r = m->run(100'000);
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::AllTasksFinished);
    CHECK(m->task(id).exit_value == 9);
}

TEST_CASE("machine: pass_idle_time runs the clock of an idle machine, at most to the budget") {
    MachineConfig cfg;
    cfg.instruction_budget = 50'000;
    auto m = sleep_machine(cfg);
    const int id = *m->create_task(
        {"d", TaskKind::Kthread, sym(*m, "sleep_once"), {kUninterruptible, 0}, 0, 1});
    auto r = m->run();
    REQUIRE(r.ok());
    REQUIRE(r->reason == StopReason::AllBlocked);
    const uint64_t clock = m->instructions();
    CHECK(m->idle_time() == 0);

    m->pass_idle_time(clock + 10'000);
    CHECK(m->instructions() == clock + 10'000);
    CHECK(m->idle_time() == 10'000);
    m->pass_idle_time(clock); // The past: nothing.
    CHECK(m->instructions() == clock + 10'000);

    m->pass_idle_time(UINT64_MAX);
    CHECK(m->instructions() == 50'000);
    CHECK(m->idle_time() == 50'000 - clock);
    auto spent = m->run();
    REQUIRE(spent.ok());
    CHECK(spent->reason == StopReason::BudgetExhausted);
    CHECK(m->task(id).state == TaskState::Blocked);
}
