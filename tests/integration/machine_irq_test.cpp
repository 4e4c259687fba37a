// IRQ entry and return: an interrupt at any instruction boundary must be invisible to the
// interrupted code (kernel_entry saves and kernel_exit restores every register, NZCV through
// SPSR), and a timer IRQ preempts compute-bound tasks through schedule().
#include "machine_test_util.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::emu;
using klpemu::test::load_asm;
using klpemu::test::make_machine;
using klpemu::test::sym;

namespace {
constexpr std::string_view kVictim = R"(
        .text
        .globl irq_victim, wrapper
irq_victim:                     // 3 * (n + (n-1) + ... + 1), flags live across instructions
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        mov     x19, #0
1:      cmp     x0, #0
        b.eq    2f
        add     x19, x19, x0, lsl #1
        add     x19, x19, x0
        sub     x0, x0, #1
        b       1b
2:      mov     x0, x19
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
wrapper:                        // irq_victim(5), then verify x19-x28 and sp; -1 on mismatch
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        mov     x19, #19
        mov     x20, #20
        mov     x21, #21
        mov     x22, #22
        mov     x23, #23
        mov     x24, #24
        mov     x25, #25
        mov     x26, #26
        mov     x27, #27
        mov     x28, #28
        mov     x0, #5
        bl      irq_victim
        cmp     x19, #19
        b.ne    9f
        cmp     x20, #20
        b.ne    9f
        cmp     x21, #21
        b.ne    9f
        cmp     x22, #22
        b.ne    9f
        cmp     x23, #23
        b.ne    9f
        cmp     x24, #24
        b.ne    9f
        cmp     x25, #25
        b.ne    9f
        cmp     x26, #26
        b.ne    9f
        cmp     x27, #27
        b.ne    9f
        cmp     x28, #28
        b.ne    9f
        mov     x9, sp
        cmp     x9, x29
        b.ne    9f
        ldp     x29, x30, [sp], #16
        ret
9:      mov     x0, #-1
        ldp     x29, x30, [sp], #16
        ret
)";

struct ExceptionCounter : ExecutionObserver {
    int entries = 0, returns = 0;
    GuestAddr entry_pc, return_pc;
    void on_exception_entry(int, int, ExceptionKind, GuestAddr pc) override {
        ++entries;
        entry_pc = pc;
    }
    void on_exception_return(int, int, ExceptionKind, GuestAddr pc) override {
        ++returns;
        return_pc = pc;
    }
};
} // namespace

TEST_CASE("machine: an IRQ at every instruction leaves result and callee-saved registers intact") {
    uint64_t total = 0;
    {
        auto m = make_machine();
        load_asm(*m, kVictim);
        auto r = m->call(sym(*m, "wrapper"));
        REQUIRE(r.ok());
        REQUIRE(*r == 45);
        total = m->instructions();
    }
    REQUIRE(total > 60);
    int inside_victim = 0;
    for (uint64_t at = 0; at < total; ++at) {
        CAPTURE(at);
        auto m = make_machine();
        load_asm(*m, kVictim);
        ExceptionCounter ec;
        m->add_observer(&ec);
        m->schedule_irq(0, at);
        auto r = m->call(sym(*m, "wrapper"));
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        CHECK(*r == 45);
        CHECK(ec.entries == 1);
        CHECK(ec.returns == 1);
        CHECK(ec.return_pc == ec.entry_pc);
        CHECK(m->exceptions_taken(0) == 1);
        CHECK(m->findings().empty());
        if (m->symbolize(ec.entry_pc).base == "irq_victim") {
            ++inside_victim;
        }
    }
    CHECK(inside_victim >= 20);
}

TEST_CASE("machine: the pt_regs an IRQ builds carries a PT_REGS metadata record") {
    auto m = make_machine();
    load_asm(*m, kVictim);
    int id = *m->create_task({"t", TaskKind::Kthread, sym(*m, "wrapper"), {}, 0, 1});
    m->add_breakpoint(sym(*m, "irq_victim") + 24); // the loop's `add x19, x19, x0, lsl #1`
    auto r = m->run();
    REQUIRE(r->reason == StopReason::Breakpoint);
    m->remove_breakpoint(sym(*m, "irq_victim") + 24);
    m->request_irq(0);
    m->add_breakpoint(sym(*m, "el1_interrupt"));
    r = m->run();
    REQUIRE(r->reason == StopReason::Breakpoint);
    CpuState s = m->cpu_state(0);
    // x29 = &regs->stackframe; regs->pc is the interrupted instruction.
    GuestAddr regs(s.x[29] - kSStackframe);
    CHECK(m->memory().load<uint64_t>(GuestAddr(s.x[29])) == 0);
    CHECK(m->memory().load<uint64_t>(GuestAddr(s.x[29] + 8)) == 0);
    CHECK(m->memory().load<uint64_t>(GuestAddr(s.x[29] + 16)) == kFrameMetaPtRegs);
    CHECK(m->memory().load<uint64_t>(regs + int64_t(kSPc)) == (sym(*m, "irq_victim") + 24).value);
    CHECK(m->memory().load<uint64_t>(regs + int64_t(kSSp)) == regs.value + kPtRegsSize);
    CHECK(m->task(id).stack.contains(regs));
    m->remove_breakpoint(sym(*m, "el1_interrupt"));
    r = m->run();
    CHECK(m->task(id).exit_value == 45);
}

TEST_CASE("machine: before 6.13 the IRQ frame record chains {x29, ELR} in the era's pt_regs") {
    // v4.19..v6.12 kernel_entry from EL1: `stp x29, x22, [sp, #S_STACKFRAME]` with x22 = ELR, so
    // a frame-pointer walk goes on into the interrupted function. pt_regs is 320 bytes in 4.19
    // and 5.5 (stackframe at 304), 336 from 5.10 (lockdep_hardirqs, exit_rcu after it).
    for (const KernelEra era : {KernelEra::V4_19_v4, KernelEra::V5_10, KernelEra::V6_5}) {
        const KernelEraInfo& info = era_info(era);
        CAPTURE(info.name);
        MachineConfig cfg;
        cfg.era = era;
        auto m = make_machine(cfg);
        load_asm(*m, kVictim);
        int id = *m->create_task({"t", TaskKind::Kthread, sym(*m, "wrapper"), {}, 0, 1});
        const GuestAddr interrupted = sym(*m, "irq_victim") + 24;
        m->add_breakpoint(interrupted);
        auto r = m->run();
        REQUIRE(r->reason == StopReason::Breakpoint);
        const uint64_t victim_fp = m->cpu_state(0).x[29];
        m->remove_breakpoint(interrupted);
        m->request_irq(0);
        m->add_breakpoint(sym(*m, "el1_interrupt"));
        r = m->run();
        REQUIRE(r->reason == StopReason::Breakpoint);
        CpuState s = m->cpu_state(0);
        GuestAddr regs(s.x[29] - info.pt_regs_stackframe);
        CHECK(m->memory().load<uint64_t>(GuestAddr(s.x[29])) == victim_fp);
        CHECK(m->memory().load<uint64_t>(GuestAddr(s.x[29] + 8)) == interrupted.value);
        CHECK(m->memory().load<uint64_t>(regs + int64_t(kSPc)) == interrupted.value);
        CHECK(m->memory().load<uint64_t>(regs + int64_t(kSSp)) == regs.value + info.pt_regs_size);
        m->remove_breakpoint(sym(*m, "el1_interrupt"));
        r = m->run();
        CHECK(m->task(id).exit_value == 45);
    }
}

TEST_CASE("machine: timer IRQs preempt compute-bound tasks on one CPU") {
    MachineConfig cfg;
    cfg.irq_timer_period = 300; // Well above the ~80-instruction IRQ path.
    auto m = make_machine(cfg);
    load_asm(*m, R"(
        .text
        .globl count_down
count_down:                     // x0 iterations of pure computation, returns x0 * x1
        mov     x2, #0
1:      add     x2, x2, x1
        subs    x0, x0, #1
        b.ne    1b
        mov     x0, x2
        ret
)");
    struct Switches : ExecutionObserver {
        int n = 0;
        void on_task_switch(int, int, int) override { ++n; }
    } sw;
    m->add_observer(&sw);
    int a = *m->create_task({"a", TaskKind::Kthread, sym(*m, "count_down"), {2000, 3}, 0, 1});
    int b = *m->create_task({"b", TaskKind::Kthread, sym(*m, "count_down"), {1500, 7}, 0, 1});
    auto r = m->run();
    REQUIRE(r.ok());
    CHECK(r->reason == StopReason::AllTasksFinished);
    CHECK(m->task(a).exit_value == 6000);
    CHECK(m->task(b).exit_value == 10500);
    CHECK(m->exceptions_taken(0) > 20);
    CHECK(sw.n > 10); // Preempted back and forth from el1_interrupt.
    CHECK(m->findings().empty());
}

TEST_CASE("machine: a user task loops through its syscall and return-to-user point") {
    auto m = make_machine();
    load_asm(*m, R"(
        .text
        .globl sys_inc
sys_inc: add x0, x0, #1
        ret
)");
    struct Ret : ExecutionObserver {
        int n = 0;
        void on_return_to_user(int, int) override { ++n; }
    } ret;
    m->add_observer(&ret);
    int u = *m->create_task({"user", TaskKind::User, sym(*m, "sys_inc"), {41}, 0, 3});
    auto r = m->run();
    REQUIRE(r.ok());
    CHECK(m->task(u).state == TaskState::Exited);
    CHECK(m->task(u).syscalls == 3);
    CHECK(ret.n == 3);
    CHECK(m->task(u).exit_value == 42);
    CHECK(m->memory().load<uint64_t>(m->task(u).pt_regs) == 42); // regs->regs[0]
}

TEST_CASE("machine: a user task's syscall frame is the era's final record") {
    // el0 entry: `stp xzr, xzr, [sp, #S_STACKFRAME]` in every era, and from 6.13 the metadata
    // type FRAME_META_TYPE_FINAL after it (emu/guest/sched.S, el0_svc_loop). The syscall here
    // returns its x29, the record's address.
    for (const KernelEra era : {KernelEra::V4_19_v4, KernelEra::V6_1, KernelEra::V6_17}) {
        const KernelEraInfo& info = era_info(era);
        CAPTURE(info.name);
        MachineConfig cfg;
        cfg.era = era;
        auto m = make_machine(cfg);
        load_asm(*m, R"(
        .text
        .globl sys_fp
sys_fp: mov x0, x29
        ret
)");
        int u = *m->create_task({"user", TaskKind::User, sym(*m, "sys_fp"), {}, 0, 1});
        auto r = m->run();
        REQUIRE(r.ok());
        REQUIRE(m->task(u).state == TaskState::Exited);
        const GuestAddr record(m->task(u).exit_value);
        CHECK(record == m->task(u).pt_regs + int64_t(info.pt_regs_stackframe));
        CHECK(m->task(u).pt_regs + int64_t(info.pt_regs_size) == m->task(u).stack.end);
        CHECK(m->memory().load<uint64_t>(record) == 0);
        CHECK(m->memory().load<uint64_t>(record + 8) == 0);
        // 4.19's record is pt_regs' last 16 bytes: no type word follows it.
        const bool has_type_word = info.pt_regs_stackframe + 24 <= info.pt_regs_size;
        const bool final_type =
            has_type_word && m->memory().load<uint64_t>(record + 16) == kFrameMetaFinal;
        CHECK(final_type == (info.exception_frame == ExceptionFrame::MetaPtRegs));
    }
}
