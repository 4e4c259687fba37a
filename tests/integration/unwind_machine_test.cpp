// The reliability checker on a real machine: guest code with CFI runs under every policy at
// every instruction boundary. fp-naive must be caught in the prologue/epilogue/leaf windows
// and below an exception boundary; kunwind must never be unsound; cfi must be right wherever
// CFI covers the code.
#include "machine_test_util.h"

#include "emu/cfi_table.h"
#include "unwinder/machine_checker.h"
#include "unwinder/task_walker.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>

using namespace klpemu;
using namespace klpemu::unwinder;
using klpemu::test::make_machine;
using klpemu::test::sym;

namespace {

constexpr std::string_view kChain = R"(
        .text
        .globl outer, middle, leaf, sleeper, spin
        .type outer, %function
outer:
        .cfi_startproc
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        .cfi_offset w30, -8
        .cfi_offset w29, -16
        mov     x29, sp
        .cfi_def_cfa w29, 16
        bl      middle
        bl      sleeper
        .cfi_def_cfa wsp, 16
        ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_restore w30
        .cfi_restore w29
        ret
        .cfi_endproc
        .size outer, . - outer

        .type middle, %function
middle:
        .cfi_startproc
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        .cfi_offset w30, -8
        .cfi_offset w29, -16
        mov     x29, sp
        .cfi_def_cfa w29, 16
        bl      leaf
        .cfi_def_cfa wsp, 16
        ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_restore w30
        .cfi_restore w29
        ret
        .cfi_endproc
        .size middle, . - middle

        .type leaf, %function
leaf:
        .cfi_startproc
        add     x0, x0, #1
        add     x0, x0, #1
        ret
        .cfi_endproc
        .size leaf, . - leaf

        .type sleeper, %function
sleeper:
        .cfi_startproc
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        .cfi_offset w30, -8
        .cfi_offset w29, -16
        mov     x29, sp
        .cfi_def_cfa w29, 16
        bl      schedule
        .cfi_def_cfa wsp, 16
        ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_restore w30
        .cfi_restore w29
        ret
        .cfi_endproc
        .size sleeper, . - sleeper

        .type spin, %function
spin:                           // spin(n): calls middle n times
        .cfi_startproc
        stp     x29, x30, [sp, #-32]!
        .cfi_def_cfa_offset 32
        .cfi_offset w30, -24
        .cfi_offset w29, -32
        mov     x29, sp
        .cfi_def_cfa w29, 32
        str     x19, [sp, #16]
        .cfi_offset w19, -16
        mov     x19, x0
1:      bl      middle
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        .cfi_def_cfa wsp, 32
        ldp     x29, x30, [sp], #32
        .cfi_def_cfa_offset 0
        .cfi_restore w30
        .cfi_restore w29
        .cfi_restore w19
        ret
        .cfi_endproc
        .size spin, . - spin
)";

struct Rig {
    std::unique_ptr<emu::Machine> m;
    CfiTable cfi;

    explicit Rig(const emu::MachineConfig& config = {}) : m(make_machine(config)) {
        auto obj = m->load_assembly(kChain, "chain.S");
        REQUIRE_MESSAGE(obj.ok(), (obj.ok() ? "" : obj.error().message));
        REQUIRE_FALSE(obj->cfi.empty());
        for (const CfiSection& s : obj->cfi) {
            const Result<void> r = cfi.add_section(s);
            REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        }
    }

    // outer(7) on a fresh kthread: outer -> middle -> leaf returns 9.
    void call_outer() {
        auto r = m->call(sym(*m, "outer"), {7});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        CHECK(*r == 9);
    }
};

bool has_finding(const ReliabilityChecker& c, std::string_view policy, std::string_view where) {
    return std::any_of(c.findings().begin(), c.findings().end(), [&](const Finding& f) {
        return f.kind == "unsound-reliable-trace" && f.where == where &&
               f.message.find(fmt::format("unwinder: {}:", policy)) != std::string::npos;
    });
}

} // namespace

TEST_CASE("unwind checker: a call chain on the real machine") {
    Rig rig;
    MachineChecker mc(*rig.m, CheckerConfig{}, &rig.cfi);
    rig.call_outer();
    const ReliabilityChecker& c = mc.checker();
    INFO(c.summary());
    for (const Finding& f : c.findings()) {
        INFO(f.where << ": " << f.message);
    }

    // The ground truth followed every call and return.
    CHECK(std::none_of(c.findings().begin(), c.findings().end(),
                       [](const Finding& f) { return f.kind == "shadow-stack-mismatch"; }));

    // fp-naive: the prologue of middle (x30 holds outer's return address, no record yet), the
    // whole leaf, and the epilogue after ldp.
    CHECK(c.stats("fp-naive").unsound > 0);
    CHECK(has_finding(c, "fp-naive", "middle"));
    CHECK(has_finding(c, "fp-naive", "leaf"));
    CHECK(has_finding(c, "fp-naive", "middle+0x10")); // After ldp, at ret.
    // seed-v4 is 4.19's walk: it wants 16-byte records, and 6.17 keeps its FINAL record at
    // pt_regs + 296 (8 mod 16), so every trace here is unreliable (its era: the next case).
    CHECK(c.stats("seed-v4").reliable_correct == 0);
    CHECK(c.stats("seed-v4").unsound == 0);

    // kunwind: never unsound; reliable and right for the task blocked in schedule().
    CHECK(c.stats("kunwind").unsound == 0);
    CHECK(c.stats("kunwind").reliable_correct > 0);

    // cfi: never unsound, and reliable in every covered function.
    CHECK(c.stats("cfi").unsound == 0);
    if (std::getenv("KLPEMU_SHOW_FINDINGS") != nullptr) {
        for (const Finding& f : c.findings()) {
            MESSAGE(f.where << ": " << f.message);
        }
    }
    const auto per_fn = c.function_stats();
    for (const char* fn : {"outer", "middle", "leaf", "sleeper"}) {
        CAPTURE(fn);
        REQUIRE(per_fn.count(fn) == 1);
        const PolicyStats& s = per_fn.at(fn).at("cfi");
        CHECK(s.checked > 0);
        CHECK(s.reliable_correct == s.checked);
    }
}

TEST_CASE("unwind checker: seed-v4 on its own era trusts the chain through a leaf") {
    emu::MachineConfig cfg;
    cfg.era = emu::KernelEra::V4_19_v4;
    Rig rig(cfg);
    MachineChecker mc(*rig.m, CheckerConfig{}, &rig.cfi);
    rig.call_outer();
    const ReliabilityChecker& c = mc.checker();
    INFO(c.summary());
    // 4.19 starts a task with x29 = 0: the walk ends at {0, ret_from_fork's return}, reliably.
    CHECK(c.stats("seed-v4").reliable_correct > 0);
    // And it trusts the chain in a leaf, which has no record of its own (seed 004's windows).
    CHECK(has_finding(c, "seed-v4", "leaf"));
}

TEST_CASE("unwind checker: timer IRQs preempting through schedule()") {
    emu::MachineConfig cfg;
    cfg.irq_timer_period = 300;
    Rig rig(cfg);
    MachineChecker mc(*rig.m, CheckerConfig{}, &rig.cfi);
    REQUIRE(
        rig.m->create_task({"a", emu::TaskKind::Kthread, sym(*rig.m, "spin"), {200}, 0, 1}).ok());
    REQUIRE(
        rig.m->create_task({"b", emu::TaskKind::Kthread, sym(*rig.m, "spin"), {150}, 0, 1}).ok());
    auto r = rig.m->run(2'000'000);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r->reason == emu::StopReason::AllTasksFinished);
    REQUIRE(rig.m->exceptions_taken(0) > 0);
    const ReliabilityChecker& c = mc.checker();
    INFO(c.summary());

    CHECK(std::none_of(c.findings().begin(), c.findings().end(),
                       [](const Finding& f) { return f.kind == "shadow-stack-mismatch"; }));
    // A task preempted from an IRQ sleeps below a PT_REGS record: fp-naive stops at its {0, 0}
    // and calls the truncated trace reliable; kunwind refuses it (v6.17).
    const auto interrupt_call =
        std::find_if(c.findings().begin(), c.findings().end(), [](const Finding& f) {
            return f.message.find("unwinder: fp-naive:") != std::string::npos &&
                   f.where.rfind("el1_interrupt", 0) == 0 &&
                   f.message.find("(blocked)") != std::string::npos;
        });
    CHECK(interrupt_call != c.findings().end());
    CHECK(c.stats("kunwind").unsound == 0);
    CHECK(c.stats("cfi").unsound == 0);
    CHECK(c.stats("kunwind").checked > 1000);
}

TEST_CASE("unwind task walker: a task sleeping in schedule() is walked from its saved context") {
    Rig rig;
    emu::Machine& m = *rig.m;
    const int a = *m.create_task({"a", emu::TaskKind::Kthread, sym(m, "outer"), {1}, 0, 1});
    const int b = *m.create_task({"b", emu::TaskKind::Kthread, sym(m, "outer"), {2}, 0, 1});
    TaskWalker kunwind(m, "kunwind", &rig.cfi);
    TaskWalker naive(m, "fp-naive", &rig.cfi);
    TaskWalker cfi(m, "cfi", &rig.cfi);

    CHECK_FALSE(kunwind.save_task_reliable(a).entries.size() > 1); // Not started: only its pc.
    // Run until a has switched out inside schedule() (sleeper's call) and b runs.
    bool slept = false;
    for (int i = 0; i < 10000 && !slept; ++i) {
        REQUIRE(m.run(1).ok());
        const emu::Task& t = m.task(a);
        slept = t.state != emu::TaskState::Running && t.instructions > 0 && !t.finished();
    }
    REQUIRE(slept);
    CHECK(m.task(b).state == emu::TaskState::Running);
    CHECK_FALSE(kunwind.save_task_reliable(b).reliable); // Running: refused.

    const emu::StackWalkResult k = kunwind.save_task_reliable(a);
    INFO(k.reason);
    CHECK(k.reliable);
    REQUIRE(k.entries.size() == 4);
    CHECK(m.symbolize(k.entries[0]).base == "schedule");
    CHECK(k.entries[1] == sym(m, "sleeper") + 0xc);
    CHECK(k.entries[2] == sym(m, "outer") + 0x10);
    CHECK(k.entries[3] == sym(m, "ret_from_fork") + 0x24);
    CHECK(naive.save_task_reliable(a).entries == k.entries);
    // schedule() has no CFI (hand-written guest code): the cfi policy refuses.
    CHECK_FALSE(cfi.save_task_reliable(a).reliable);
}
