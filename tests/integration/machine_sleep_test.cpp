// Sleeping in schedule() (emu/machine_run.cpp, Machine::hc_schedule): a task whose __state is not
// TASK_RUNNING blocks until wake_up(), and its CPU idles; with a timer armed it yields instead; a
// wake-up between set_current_state() and schedule() keeps it from sleeping at all, and so does a
// pending signal for an interruptible sleeper; a preemption never puts a task to sleep; a wake-up
// gets the woken CPU running within a quantum. And the clock of an idle machine:
// pass_idle_time() lets time pass with no instruction run, outside the instruction budget.
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
constexpr uint16_t kSignal = 0x203;   // TIF_NOTIFY_SIGNAL on current
constexpr uint16_t kWake = 0x204;     // wake_up(x0)
constexpr uint16_t kNote = 0x205;     // notes the clock

// sleep_once(state, timer): set_current_state(state), arm the timer if nonzero, schedule()
// three times, return 7. wake_before(state): set_current_state(state), woken, schedule(),
// return 9.
constexpr std::string_view kSleepers = R"(
        .text
        .globl sleep_once, wake_before, signalled, busy_asleep, wake_and_spin
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
signalled:                      // set_current_state(x0) with a signal pending, schedule(): 11
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        hvc     #0x203
        hvc     #0x200
        bl      schedule
        mov     x0, #11
        ldp     x29, x30, [sp], #16
        ret
busy_asleep:                    // set_current_state(x0), then x1 loops without schedule(): 5
        hvc     #0x200
1:      subs    x1, x1, #1
        b.ne    1b
        mov     x0, #0
        hvc     #0x200
        mov     x0, #5
        ret
wake_and_spin:                  // x1 loops, wake_up(x0), x2 loops: 6
        mov     x9, x0
1:      subs    x1, x1, #1
        b.ne    1b
        mov     x0, x9
        hvc     #0x204
2:      subs    x2, x2, #1
        b.ne    2b
        mov     x0, #6
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
    m->register_host_call(kSignal, [](HostCallContext& c) { c.task().tif_notify_signal = true; });
    m->register_host_call(kWake, [raw](HostCallContext& c) { raw->wake_up(int(c.arg(0))); });
    return m;
}

constexpr uint64_t kInterruptible = 1;
constexpr uint64_t kUninterruptible = 2;

// A machine whose one task `id` went to sleep in TASK_UNINTERRUPTIBLE with no timer: the run
// stopped with every CPU idle at `clock`.
struct Asleep {
    std::unique_ptr<Machine> m;
    int id = -1;
    uint64_t clock = 0;
};

Asleep one_asleep(MachineConfig cfg = {}) {
    Asleep a{sleep_machine(cfg)};
    a.id = *a.m->create_task(
        {"d", TaskKind::Kthread, sym(*a.m, "sleep_once"), {kUninterruptible, 0}, 0, 1});
    auto r = a.m->run();
    REQUIRE(r.ok());
    REQUIRE(r->reason == StopReason::AllBlocked);
    a.clock = a.m->instructions();
    return a;
}

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

TEST_CASE(
    "machine: a pending signal keeps an interruptible sleeper awake, not an uninterruptible one") {
    auto m = sleep_machine();
    const int i =
        *m->create_task({"i", TaskKind::Kthread, sym(*m, "signalled"), {kInterruptible}, 0, 1});
    const int u =
        *m->create_task({"u", TaskKind::Kthread, sym(*m, "signalled"), {kUninterruptible}, 0, 1});
    auto r = m->run(100'000);
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::AllBlocked);
    CHECK(m->task(i).state == TaskState::Exited); // signal_pending_state: TASK_RUNNING again.
    CHECK(m->task(i).exit_value == 11);
    CHECK(m->task(u).state == TaskState::Blocked);
}

TEST_CASE("machine: a preemption does not put a task to sleep, whatever its state") {
    auto m = sleep_machine();
    // b sets TASK_UNINTERRUPTIBLE and computes without calling schedule(); the IRQ at 200
    // preempts it for w (need_resched), and it must come back to finish.
    const int b = *m->create_task(
        {"b", TaskKind::Kthread, sym(*m, "busy_asleep"), {kUninterruptible, 5000}, 0, 1});
    const int w = *m->create_task({"w", TaskKind::Kthread, sym(*m, "sleep_once"), {0, 0}, 0, 1});
    m->schedule_irq(0, 200);
    auto r = m->run(1'000'000);
    REQUIRE(r.ok());
    CHECK(m->exceptions_taken(0) == 1);
    CHECK(r->reason == StopReason::AllTasksFinished);
    CHECK(m->task(b).exit_value == 5);
    CHECK(m->task(w).exit_value == 7);
}

TEST_CASE("machine: a wake-up gets the woken CPU running within a quantum, not a lone slice") {
    MachineConfig cfg;
    cfg.cpus = 2;
    auto m = sleep_machine(cfg);
    uint64_t woken_at = 0, back_at = 0;
    m->register_host_call(kNote, [&](HostCallContext& c) { back_at = c.machine().instructions(); });
    m->register_host_call(kWake, [&](HostCallContext& c) {
        woken_at = c.machine().instructions();
        c.machine().wake_up(int(c.arg(0)));
    });
    // d sleeps on CPU 0; s on CPU 1 spins, wakes d, and spins a long time more (CPU 1 alone
    // gets a lone-CPU slice of 2^20 instructions). d then notes the clock.
    constexpr std::string_view kNoteAfterSleep = R"(
        .text
        .globl sleep_then_note
sleep_then_note:
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        hvc     #0x200
        bl      schedule
        hvc     #0x205
        mov     x0, #8
        ldp     x29, x30, [sp], #16
        ret
)";
    load_asm(*m, kNoteAfterSleep, "note.S");
    const int d = *m->create_task(
        {"d", TaskKind::Kthread, sym(*m, "sleep_then_note"), {kUninterruptible}, 0, 1});
    const int s = *m->create_task(
        {"s", TaskKind::Kthread, sym(*m, "wake_and_spin"), {uint64_t(d), 100, 300'000}, 1, 1});
    auto r = m->run();
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::AllTasksFinished);
    CHECK(m->task(d).exit_value == 8);
    CHECK(m->task(s).exit_value == 6);
    REQUIRE(woken_at > 0);
    CHECK(back_at > woken_at);
    CHECK(back_at - woken_at < 4 * cfg.scheduling.quantum);
}

TEST_CASE("machine: pass_idle_time runs the clock of an idle machine, outside the budget") {
    MachineConfig cfg;
    cfg.instruction_budget = 50'000;
    auto [m, id, clock] = one_asleep(cfg);
    CHECK(m->idle_time() == 0);

    m->pass_idle_time(clock + 10'000);
    CHECK(m->instructions() == clock + 10'000);
    CHECK(m->idle_time() == 10'000);
    m->pass_idle_time(clock); // The past: nothing.
    CHECK(m->instructions() == clock + 10'000);

    // Idle time is no work: a clock past the budget leaves it unspent.
    m->pass_idle_time(clock + 1'000'000);
    CHECK(m->idle_time() == 1'000'000);
    m->wake_up(id);
    auto done = m->run();
    REQUIRE(done.ok());
    CHECK(done->reason == StopReason::AllTasksFinished);
    CHECK(m->task(id).exit_value == 7);
    CHECK(m->findings().empty());
}

TEST_CASE("machine: an IRQ wakes a CPU that idles, and ends idle time early") {
    auto [m, id, clock] = one_asleep();
    m->schedule_irq(0, clock + 100);
    m->pass_idle_time(clock + 5000); // Up to the IRQ only.
    CHECK(m->instructions() == clock + 100);
    auto irq = m->run();
    REQUIRE(irq.ok());
    CHECK(irq->reason == StopReason::AllBlocked);
    CHECK(m->exceptions_taken(0) == 1);

    m->request_irq(0); // Due at once: `irq 0` in a scenario.
    auto again = m->run();
    REQUIRE(again.ok());
    CHECK(m->exceptions_taken(0) == 2);
    CHECK(m->task(id).state == TaskState::Blocked); // An IRQ is no wake-up.
}
