// Integration tests of the machine running real guest code: calls, tasks on one and two CPUs,
// the terminal frame of a blocked task, printk, and findings for BRK, faults and runaways.
#include "machine_test_util.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::emu;
using klpemu::test::load_asm;
using klpemu::test::make_machine;
using klpemu::test::sym;

namespace {

constexpr std::string_view kNested = R"(
        .text
        .globl add3, mul_add, outer
add3:   add     x0, x0, x1
        add     x0, x0, x2
        ret
mul_add:                        // (a * b) + add3(a, b, 1)
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        mul     x19, x0, x1
        mov     x2, #1
        bl      add3
        add     x0, x0, x19
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
outer:                          // mul_add(x0, x1) * 2 + mul_add(x1, x0)
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        stp     x19, x20, [sp, #16]
        mov     x19, x0
        mov     x20, x1
        bl      mul_add
        mov     x21, x0
        mov     x0, x20
        mov     x1, x19
        bl      mul_add
        add     x0, x0, x21, lsl #1
        ldp     x19, x20, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
)";

uint64_t mul_add(uint64_t a, uint64_t b) {
    return a * b + a + b + 1;
}

} // namespace

TEST_CASE("machine: nested calls return correct values") {
    auto m = make_machine();
    load_asm(*m, kNested);
    auto r = m->call(sym(*m, "add3"), {1, 2, 3});
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(*r == 6);
    auto r2 = m->call(sym(*m, "outer"), {7, 5});
    REQUIRE(r2.ok());
    CHECK(*r2 == mul_add(7, 5) * 2 + mul_add(5, 7));
    CHECK(m->findings().empty());
    CHECK(m->cpu_instructions(0) > 20);
}

namespace {
constexpr std::string_view kWorkers = R"(
        .text
        .globl worker
// worker(n, step): sums step n times, yielding to schedule() every iteration.
worker:
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        stp     x19, x20, [sp, #16]
        mov     x19, x0
        mov     x20, #0
1:      add     x20, x20, x1
        mov     x21, x1
        bl      schedule
        mov     x1, x21
        subs    x19, x19, #1
        b.ne    1b
        mov     x0, x20
        ldp     x19, x20, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
)";

struct SwitchCounter : ExecutionObserver {
    int switches = 0;
    void on_task_switch(int, int, int) override { ++switches; }
};
} // namespace

TEST_CASE("machine: two tasks on one CPU interleave and both finish") {
    auto m = make_machine();
    load_asm(*m, kWorkers);
    SwitchCounter sc;
    m->add_observer(&sc);
    TaskSpec a{"a", TaskKind::Kthread, sym(*m, "worker"), {10, 3}, 0, 1};
    TaskSpec b{"b", TaskKind::Kthread, sym(*m, "worker"), {7, 100}, 0, 1};
    int ia = *m->create_task(a);
    int ib = *m->create_task(b);
    auto r = m->run();
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::AllTasksFinished);
    CHECK(m->task(ia).state == TaskState::Exited);
    CHECK(m->task(ia).exit_value == 30);
    CHECK(m->task(ib).exit_value == 700);
    CHECK(sc.switches >= 14); // They alternated at every schedule().
    CHECK(m->task(ia).instructions > 0);
    CHECK(m->findings().empty());
}

TEST_CASE("machine: tasks on two CPUs interleave and both finish") {
    MachineConfig cfg;
    cfg.cpus = 2;
    cfg.scheduling.quantum = 7;
    auto m = make_machine(cfg);
    load_asm(*m, kWorkers);
    int ia = *m->create_task({"a", TaskKind::Kthread, sym(*m, "worker"), {50, 2}, 0, 1});
    int ib = *m->create_task({"b", TaskKind::Kthread, sym(*m, "worker"), {40, 5}, 1, 1});
    int ic = *m->create_task({"c", TaskKind::Kthread, sym(*m, "worker"), {30, 1}, 1, 1});
    auto r = m->run();
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::AllTasksFinished);
    CHECK(m->task(ia).exit_value == 100);
    CHECK(m->task(ib).exit_value == 200);
    CHECK(m->task(ic).exit_value == 30);
    CHECK(m->cpu_instructions(0) > 100);
    CHECK(m->cpu_instructions(1) > 100);
}

TEST_CASE("machine: a blocked task's frame chain leads from schedule to its FINAL record") {
    auto m = make_machine();
    load_asm(*m, kWorkers);
    int ia = *m->create_task({"a", TaskKind::Kthread, sym(*m, "worker"), {5, 1}, 0, 1});
    int ib = *m->create_task({"b", TaskKind::Kthread, sym(*m, "worker"), {5, 1}, 0, 1});
    // Stop when b first runs worker's loop: a is then asleep inside schedule().
    m->add_breakpoint(sym(*m, "worker"));
    auto r = m->run();
    REQUIRE(r.ok());
    REQUIRE(r->reason == StopReason::Breakpoint);
    REQUIRE(m->current_task(0) == ia);
    m->remove_breakpoint(sym(*m, "worker"));
    auto r2 = m->run(25); // a reaches schedule() (11 insns), b runs into worker.
    REQUIRE(r2.ok());
    REQUIRE(m->current_task(0) == ib);
    const Task& a = m->task(ia);
    CHECK(m->symbolize(GuestAddr(a.saved.pc)).base == "schedule");
    // Walk frame records through host pointers: schedule -> worker -> ret_from_fork -> FINAL.
    std::vector<std::string> chain;
    uint64_t fp = a.saved.fp;
    for (int depth = 0; depth < 10; ++depth) {
        REQUIRE(a.stack.contains(GuestAddr(fp)));
        uint64_t next = m->memory().load<uint64_t>(GuestAddr(fp));
        uint64_t lr = m->memory().load<uint64_t>(GuestAddr(fp + 8));
        if (next == 0 && lr == 0) {
            CHECK(GuestAddr(fp) == a.pt_regs + int64_t(kSStackframe));
            CHECK(m->memory().load<uint64_t>(GuestAddr(fp + 16)) == kFrameMetaFinal);
            chain.push_back("FINAL");
            break;
        }
        chain.push_back(m->symbolize(GuestAddr(lr)).base);
        fp = next;
    }
    CHECK(chain == std::vector<std::string>{"worker", "ret_from_fork", "FINAL"});
    auto r3 = m->run();
    REQUIRE(r3.ok());
    CHECK(m->task(ia).exit_value == 5);
    CHECK(m->task(ib).exit_value == 5);
}

TEST_CASE("machine: a task's stack bottom is the era's: FINAL record, {0, 0} record, or x29 = 0") {
    // copy_thread's task bottom: 6.13+ point x29 at {0, 0, FINAL} in pt_regs; 5.14..6.12 at a
    // plain {0, 0} there; 4.19..5.13 start the thread with x29 = 0. task_pt_regs is
    // stack top - PT_REGS_SIZE (320 in 4.19 and 5.5).
    struct Case {
        KernelEra era;
        bool record;
        bool final_type;
    };
    for (const Case c : {Case{KernelEra::V6_17, true, true}, Case{KernelEra::V6_1, true, false},
                         Case{KernelEra::V4_19_v4, false, false},
                         Case{KernelEra::V5_10, false, false}}) {
        const KernelEraInfo& era = era_info(c.era);
        CAPTURE(era.name);
        MachineConfig cfg;
        cfg.era = c.era;
        auto m = make_machine(cfg);
        load_asm(*m, kWorkers);
        const int id = *m->create_task({"a", TaskKind::Kthread, sym(*m, "worker"), {5, 1}, 0, 1});
        const Task& t = m->task(id);
        CHECK(t.pt_regs == t.stack.end - int64_t(era.pt_regs_size));
        CHECK(t.saved.sp == t.pt_regs.value);
        const GuestAddr record = t.pt_regs + int64_t(era.pt_regs_stackframe);
        CHECK(t.saved.fp == (c.record ? record.value : 0));
        CHECK(m->memory().load<uint64_t>(record) == 0);
        CHECK(m->memory().load<uint64_t>(record + 8) == 0);
        if (c.final_type || era.pt_regs_size > era.pt_regs_stackframe + 16) {
            CHECK(m->memory().load<uint64_t>(record + 16) == (c.final_type ? kFrameMetaFinal : 0));
        }
        // The worker's own frame record links to that bottom, and the task runs to its end.
        m->add_breakpoint(sym(*m, "worker") + 8);
        REQUIRE(m->run()->reason == StopReason::Breakpoint);
        const uint64_t fp = m->cpu_state(0).x[29];
        CHECK(m->memory().load<uint64_t>(GuestAddr(fp)) == t.saved.fp);
        CHECK(m->symbolize(GuestAddr(m->memory().load<uint64_t>(GuestAddr(fp + 8)))).base ==
              "ret_from_fork");
        m->remove_breakpoint(sym(*m, "worker") + 8);
        CHECK(m->run()->reason == StopReason::AllTasksFinished);
    }
}

TEST_CASE("machine: a runaway loop stops at the budget with a finding") {
    MachineConfig cfg;
    cfg.instruction_budget = 100000;
    auto m = make_machine(cfg);
    load_asm(*m, R"(
        .text
        .globl spin
spin:   add x0, x0, #1
        b spin
)");
    auto r = m->call(sym(*m, "spin"));
    CHECK_FALSE(r.ok());
    REQUIRE(m->findings().size() == 1);
    const Finding& f = m->findings()[0];
    CHECK(f.kind == "budget-exhausted");
    CHECK(f.where.rfind("spin", 0) == 0);
    CHECK(m->instructions() == 100000);
}

TEST_CASE("machine: BRK #0x100 is a patched-brk finding that kills the task") {
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl f, g
f:      nop
        brk #0x100
        ret
g:      mov x0, #42
        ret
)");
    auto r = m->call(sym(*m, "f"));
    CHECK_FALSE(r.ok());
    REQUIRE(m->findings().size() == 1);
    CHECK(m->findings()[0].kind == "patched-brk");
    CHECK(m->findings()[0].message == "patched BRK executed");
    CHECK(m->findings()[0].where == "f+0x4");
    auto r2 = m->call(sym(*m, "g")); // The machine lives on.
    REQUIRE(r2.ok());
    CHECK(*r2 == 42);
}

TEST_CASE("machine: an unmapped access is a finding with the symbolized PC") {
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl bad
bad:    mov x1, #0x1000
        ldr x0, [x1]
        ret
)");
    auto r = m->call(sym(*m, "bad"));
    CHECK_FALSE(r.ok());
    REQUIRE(m->findings().size() == 1);
    CHECK(m->findings()[0].kind == "unmapped-access");
    CHECK(m->findings()[0].where == "bad+0x4");
    CHECK(m->findings()[0].severity == Severity::Fatal);
}

TEST_CASE("machine: printk logs a formatted line with cpu and task") {
    auto m = make_machine();
    load_asm(*m, R"(
        .section .rodata
msg:    .asciz "hello %d from %s\n"
name:   .asciz "guest"
        .text
        .globl hello
hello:  stp x29, x30, [sp, #-16]!
        mov x29, sp
        adrp x0, msg
        add x0, x0, :lo12:msg
        mov x1, #7
        adrp x2, name
        add x2, x2, :lo12:name
        bl printk
        ldp x29, x30, [sp], #16
        ret
)");
    auto r = m->call(sym(*m, "hello"));
    REQUIRE(r.ok());
    REQUIRE(m->log().size() == 1);
    CHECK(m->log()[0] == "[cpu0 call:hello] hello 7 from guest");
}

#include "emu/cpu_clock.h"
#include "emu/cycle_model.h"

TEST_CASE("machine: the cycle count equals a CpuClock's sum over what ran, in both models") {
    for (CycleAccuracy mode : {CycleAccuracy::Fast, CycleAccuracy::Pipeline}) {
        for (std::string_view core : {"cortex-a53", "neoverse-n1"}) {
            CAPTURE(core);
            CAPTURE(int(mode));
            MachineConfig cfg;
            cfg.core = std::string(core);
            cfg.cycles = mode;
            auto m = make_machine(cfg);
            load_asm(*m, kNested);
            struct Words : ExecutionObserver {
                std::vector<InsnEvent> insns;
                int host_calls = 0;
                void on_instruction(const InsnEvent& e) override { insns.push_back(e); }
                void on_host_call(int, int, uint32_t) override { ++host_calls; }
            } w;
            m->add_observer(&w);
            auto r = m->call(sym(*m, "outer"), {3, 4});
            REQUIRE(r.ok());
            auto model = CycleModel::create(core);
            REQUIRE(model.ok());
            auto clock = CpuClock::create(*model, mode);
            REQUIRE(clock.ok());
            uint64_t expected = 0;
            for (const InsnEvent& e : w.insns) {
                expected += (*clock)->instruction(e.pc.value, model->cost(e.word), e.word);
            }
            expected += uint64_t(w.host_calls) * kHostCallCycles;
            CHECK(w.insns.size() == m->cpu_instructions(0));
            CHECK(m->cpu_cycles(0) == expected);
            CHECK(m->cpu_cycles(0) > m->cpu_instructions(0) / 4);
        }
    }
    CHECK_FALSE(Machine::create([] {
                    MachineConfig c;
                    c.core = "no-such-core";
                    return c;
                }())
                    .ok());
}
