// Host calls run inside Unicorn's trap callback (emu/machine_run.cpp, Machine::on_trap): the
// guest goes on after `hvc` without the CPU leaving emulation, and the CPU stops exactly where the
// driver would have stopped it after running the handler itself: at a stop request, and at the
// end of its slice, before the next instruction is even fetched.
#include "machine_test_util.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::emu;
using klpemu::test::load_asm;
using klpemu::test::make_machine;
using klpemu::test::sym;

namespace {

constexpr uint16_t kAddOne = 0x200; // x0 = x0 + 1
constexpr uint16_t kCount = 0x201;  // counts its calls

constexpr std::string_view kCalls = R"(
        .text
        .globl many_calls, call_forever, spin
many_calls:                     // hvc #0x200 x0 times: returns x0 (each call adds one)
        mov     x9, x0
        mov     x0, #0
1:      hvc     #0x200
        subs    x9, x9, #1
        b.ne    1b
        ret
call_forever:
1:      hvc     #0x201
        b       1b
spin:
1:      b       1b
)";

} // namespace

TEST_CASE("machine: a host call does not end emulation") {
    auto m = make_machine();
    load_asm(*m, kCalls);
    m->register_host_call(kAddOne, [](HostCallContext& c) { c.set_result(c.arg(0) + 1); });
    const uint64_t starts = m->emulation_starts();
    auto r = m->call(sym(*m, "many_calls"), {1000});
    REQUIRE(r.ok());
    CHECK(*r == 1000);
    CHECK(m->findings().empty());
    // 1000 host calls; the CPU starts emulating for the task switches only.
    CHECK(m->emulation_starts() - starts < 20);
}

TEST_CASE("machine: a host call that requests a stop stops before the next instruction") {
    auto m = make_machine();
    load_asm(*m, kCalls);
    int calls = 0;
    uint64_t clock_at_stop = 0;
    m->register_host_call(kAddOne, [&](HostCallContext& c) {
        c.set_result(c.arg(0) + 1);
        if (++calls == 3) {
            clock_at_stop = c.machine().instructions();
            c.machine().request_stop();
        }
    });
    TaskSpec spec;
    spec.name = "caller";
    spec.entry = sym(*m, "many_calls");
    spec.args[0] = 5;
    REQUIRE(m->create_task(spec).ok());
    auto r = m->run();
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::StopRequested);
    // Stopped right after the third hvc: PC at the `subs` after it, which has not run.
    CHECK(r->pc == sym(*m, "many_calls") + int64_t(12));
    CHECK(m->instructions() == clock_at_stop);
    CHECK(m->read_x(0, 0) == 3);
    auto rest = m->run();
    REQUIRE(rest.ok());
    CHECK(rest->reason == StopReason::AllTasksFinished);
    CHECK(calls == 5);
}

TEST_CASE("machine: a host call at the end of a slice leaves the next instruction to the next "
          "slice") {
    // Quantum 1: every instruction ends its CPU's slice, so after each hvc CPU 1 runs one
    // instruction before CPU 0 fetches the next one. The handler sends CPU 0 to an unmapped
    // address: the fetch faults in CPU 0's next slice, one instruction later on the clock.
    MachineConfig config;
    config.cpus = 2;
    config.scheduling.kind = ScheduleKind::RoundRobin;
    config.scheduling.quantum = 1;
    auto m = make_machine(config);
    load_asm(*m, kCalls);
    int calls = 0;
    uint64_t clock_at_redirect = 0;
    m->register_host_call(kCount, [&](HostCallContext& c) {
        if (++calls == 3) {
            clock_at_redirect = c.machine().instructions();
            c.set_next_pc(GuestAddr(0x1000));
        }
    });
    TaskSpec caller;
    caller.name = "caller";
    caller.entry = sym(*m, "call_forever");
    caller.cpu = 0;
    REQUIRE(m->create_task(caller).ok());
    TaskSpec spinner;
    spinner.name = "spinner";
    spinner.entry = sym(*m, "spin");
    spinner.cpu = 1;
    REQUIRE(m->create_task(spinner).ok());
    auto r = m->run(2000);
    REQUIRE(r.ok());
    REQUIRE(calls == 3);
    REQUIRE(m->findings().size() == 1);
    const Finding& f = m->findings().front();
    CHECK(f.kind == "unmapped-access");
    CHECK(f.instruction == clock_at_redirect + 1);
}
