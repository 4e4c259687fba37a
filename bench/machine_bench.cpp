// Machine speed against raw Unicorn on the same image in the same run (design.md §8): a
// call-heavy loop (stp/ldp frame records, bl/ret, 13 instructions per iteration) run (a) with no
// code hook at all, (b) through the machine's global code hook with no observers, (c) with a
// trivial observer; then the peak RSS of an 8-CPU machine with 64 tasks. Prints `NAME: VALUE
// UNIT` lines; figures are recorded in bench/RESULTS.md.
#include "emu/machine.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <sys/resource.h>

using namespace klpemu;
using namespace klpemu::emu;

namespace {

constexpr std::string_view kLoop = R"(
        .text
        .globl leaf, mid, bench_loop
leaf:   add     x0, x0, #1
        ret
mid:    stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        bl      leaf
        bl      leaf
        ldp     x29, x30, [sp], #16
        ret
bench_loop:
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        str     x19, [sp, #16]
        mov     x19, x0
        mov     x0, #0
1:      bl      mid
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
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

// Runs the loop once; returns seconds.
double run_once(bool code_hook, ExecutionObserver* observer) {
    MachineConfig cfg;
    cfg.code_hook = code_hook;
    cfg.instruction_budget = 1'000'000'000;
    auto m = Machine::create(cfg);
    if (!m) {
        die(m.error().message);
    }
    auto obj = (*m)->load_assembly(kLoop, "bench.S");
    if (!obj) {
        die(obj.error().message);
    }
    if (observer) {
        (*m)->add_observer(observer);
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
    return std::chrono::duration<double>(t1 - t0).count();
}

} // namespace

int main() {
    const double insns = double(kIterations * kInsnPerIteration);
    const double raw = run_once(false, nullptr);
    const double hook = run_once(true, nullptr);
    Counter counter;
    const double obs = run_once(true, &counter);
    fmt::print("raw_unicorn: {:.1f} Minsn/s\n", insns / raw / 1e6);
    fmt::print("machine_hook: {:.1f} Minsn/s\n", insns / hook / 1e6);
    fmt::print("machine_observer: {:.1f} Minsn/s\n", insns / obs / 1e6);
    fmt::print("hook_over_raw: {:.2f} ratio\n", raw / hook);

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
