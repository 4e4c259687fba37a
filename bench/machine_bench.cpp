// Machine speed against raw Unicorn on the same image in the same run (design.md §8): a
// call-heavy loop (stp/ldp frame records, bl/ret, 13 instructions per iteration) run (a) with no
// code hook at all, (b) through the machine's global code hook with no observers, (c) with a
// trivial observer, (d) with the reliability checker (ground truth plus all four unwinder
// policies checking every boundary, unwinder/machine_checker.h); then the peak RSS of an 8-CPU
// machine with 64 tasks. Prints `NAME: VALUE UNIT` lines; figures are recorded in
// bench/RESULTS.md.
#include "emu/cfi_table.h"
#include "emu/machine.h"
#include "unwinder/machine_checker.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <sys/resource.h>

using namespace klpemu;
using namespace klpemu::emu;

namespace {

// The CFI directives only add a .eh_frame section (for the checker's cfi policy); the
// instructions are the same with and without them.
constexpr std::string_view kLoop = R"(
        .text
        .globl leaf, mid, bench_loop
        .type leaf, %function
leaf:   .cfi_startproc
        add     x0, x0, #1
        ret
        .cfi_endproc
        .size leaf, . - leaf
        .type mid, %function
mid:    .cfi_startproc
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        .cfi_offset w30, -8
        .cfi_offset w29, -16
        mov     x29, sp
        .cfi_def_cfa w29, 16
        bl      leaf
        bl      leaf
        .cfi_def_cfa wsp, 16
        ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_restore w30
        .cfi_restore w29
        ret
        .cfi_endproc
        .size mid, . - mid
        .type bench_loop, %function
bench_loop:
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
        mov     x0, #0
1:      bl      mid
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
        .size bench_loop, . - bench_loop
)";
constexpr uint64_t kIterations = 4'000'000; // 13 instructions each: 52 M instructions.
constexpr uint64_t kInsnPerIteration = 13;

struct Counter : ExecutionObserver {
    uint64_t n = 0;
    void on_instruction(const InsnEvent&) override { ++n; }
};

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "machine_bench: %s\n", message.c_str());
    std::exit(1);
}

enum class Mode { Raw, Hook, HookNoGuard, Observer, Checked };

// Runs the loop once; returns seconds.
double run_once(Mode mode) {
    const bool code_hook = mode != Mode::Raw;
    MachineConfig cfg;
    cfg.code_hook = code_hook;
    cfg.text_guard = mode != Mode::Raw && mode != Mode::HookNoGuard; // raw: bare Unicorn
    cfg.instruction_budget = 1'000'000'000;
    auto m = Machine::create(cfg);
    if (!m) {
        die(m.error().message);
    }
    auto obj = (*m)->load_assembly(kLoop, "bench.S");
    if (!obj) {
        die(obj.error().message);
    }
    Counter counter;
    if (mode == Mode::Observer) {
        (*m)->add_observer(&counter);
    }
    CfiTable cfi;
    std::unique_ptr<unwinder::MachineChecker> checker;
    if (mode == Mode::Checked) {
        for (const CfiSection& s : obj->cfi) {
            if (auto r = cfi.add_section(s); !r) {
                die(r.error().message);
            }
        }
        checker = std::make_unique<unwinder::MachineChecker>(**m, unwinder::CheckerConfig{}, &cfi);
    }
    auto fn = (*m)->symbol("bench_loop");
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*m)->call(*fn, {kIterations});
    auto t1 = std::chrono::steady_clock::now();
    if (!r || *r != 2 * kIterations) {
        die(r ? fmt::format("wrong result {}", *r) : r.error().message);
    }
    if (code_hook && (*m)->instructions() < kIterations * kInsnPerIteration) {
        die("instruction count too low");
    }
    if (checker) {
        // Every policy checked every boundary; the ones that must be sound were.
        const unwinder::ReliabilityChecker& c = checker->checker();
        for (std::string_view p : c.policies()) {
            if (c.stats(p).checked < kIterations * kInsnPerIteration) {
                die(fmt::format("{} checked too few boundaries", p));
            }
        }
        if (c.stats("kunwind").unsound != 0 || c.stats("cfi").unsound != 0 ||
            c.stats("cfi").reliable_correct < kIterations * kInsnPerIteration) {
            die(fmt::format("unexpected checker results:\n{}", c.summary()));
        }
    }
    return std::chrono::duration<double>(t1 - t0).count();
}

} // namespace

int main() {
    const double insns = double(kIterations * kInsnPerIteration);
    const double raw = run_once(Mode::Raw);
    const double hook = run_once(Mode::Hook);
    const double hook_noguard = run_once(Mode::HookNoGuard);
    const double obs = run_once(Mode::Observer);
    const double checked = run_once(Mode::Checked);
    fmt::print("raw_unicorn: {:.1f} Minsn/s\n", insns / raw / 1e6);
    fmt::print("machine_hook: {:.1f} Minsn/s\n", insns / hook / 1e6);
    fmt::print("machine_observer: {:.1f} Minsn/s\n", insns / obs / 1e6);
    fmt::print("hook_over_raw: {:.2f} ratio\n", raw / hook);
    fmt::print("machine_hook_no_text_guard: {:.1f} Minsn/s\n", insns / hook_noguard / 1e6);
    fmt::print("text_guard_cost: {:.2f} ratio (hook time with guard / without)\n",
               hook / hook_noguard);
    fmt::print("checked_all_policies: {:.1f} Minsn/s\n", insns / checked / 1e6);
    fmt::print("checked_over_raw: {:.3f} ratio\n", raw / checked);

    MachineConfig big;
    big.cpus = 8;
    auto m = Machine::create(big);
    if (!m) {
        die(m.error().message);
    }
    auto obj = (*m)->load_assembly(kLoop, "bench.S");
    if (!obj) {
        die(obj.error().message);
    }
    for (int i = 0; i < 64; ++i) {
        auto id = (*m)->create_task({fmt::format("t{}", i), TaskKind::Kthread,
                                     *(*m)->symbol("bench_loop"), {1000}, i % 8, 1});
        if (!id) {
            die(id.error().message);
        }
    }
    auto r = (*m)->run();
    if (!r || r->reason != StopReason::AllTasksFinished) {
        die("8-CPU run did not finish");
    }
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    fmt::print("peak_rss: {:.1f} MiB\n", double(usage.ru_maxrss) / 1024.0);
    return 0;
}
