// Cycle fidelity against llvm-mca-19, measured in the same run (issue 19): each kernel — ALU
// streams and chains, mul/udiv chains, a pointer chase, frame push/pop, call/ret, a load loop,
// stores, FP and SIMD chains and streams, and one traced call per ftrace trampoline variant — is
// run by klpemu on a real machine in each cycle model (`fast`, `pipeline`) for two iteration
// counts on fresh machines; the difference divided by the extra iterations is the steady-state
// cycles per iteration (cold caches, predictor training and the call's setup cancel out). The
// instruction stream of one iteration is captured while it executes, disassembled, and given to
// llvm-mca-19 (--call-latency=1, as the models assume; see emu/cycle_model.h) for the same two
// iteration counts. Traced calls subtract klpemu's host-call constant, which llvm-mca cannot
// know about. Prints one line per (kernel, core) and a summary of how many kernels are within
// 15 % (fast) and 1 % (pipeline) of llvm-mca; figures are recorded in bench/RESULTS.md.
#include "emu/disassembler.h"
#include "emu/machine.h"
#include "patcher/ftrace.h"
#include "patcher/ftrace_layout.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <unistd.h>
#include <vector>

using namespace klpemu;
using namespace klpemu::emu;

namespace klpemu::patcher {
std::string_view embedded_guest_source(std::string_view file_name);
}

namespace {

constexpr uint64_t kShort = 100, kLong = 300; // Iterations of the two runs.
constexpr std::array<std::string_view, 3> kCores = {"cortex-a53", "cortex-a72", "neoverse-n1"};

struct Kernel {
    std::string_view name;
    std::string_view setup; // Runs once; the frame has 32 scratch bytes at [sp, #32].
    std::string_view body;  // One iteration, before the loop's subs/b.ne.
    std::string_view helpers = "";
};

const std::vector<Kernel>& kernels() {
    static const std::vector<Kernel> k = {
        {"alu_indep", "", "add x1, x1, #1\nadd x2, x2, #1\nadd x3, x3, #1\nadd x4, x4, #1\n"},
        {"alu_chain", "", "add x1, x1, #1\nadd x1, x1, #2\nadd x1, x1, #3\nadd x1, x1, #4\n"},
        {"mul_chain", "mov x2, #3\n", "mul x1, x1, x2\nmul x1, x1, x2\n"},
        {"udiv_chain", "mov x1, #1000\nmov x2, #1\n", "udiv x1, x1, x2\nudiv x1, x1, x2\n"},
        {"udiv_alu", "mov x1, #1000\nmov x2, #1\n",
         "udiv x1, x1, x2\nadd x3, x3, #1\nadd x4, x4, #1\nadd x5, x5, #1\n"},
        {"ptr_chase", "add x1, sp, #32\nstr x1, [sp, #32]\n",
         "ldr x1, [x1]\nldr x1, [x1]\nldr x1, [x1]\nldr x1, [x1]\n"},
        {"frame", "", "stp x29, x30, [sp, #-16]!\nmov x29, sp\nldp x29, x30, [sp], #16\n"},
        {"call_ret", "", "bl k_leaf\n", "k_leaf: ret\n"},
        {"call_frame", "", "bl k_framed\n",
         "k_framed: stp x29, x30, [sp, #-16]!\nmov x29, sp\nadd x0, x0, #1\n"
         "ldp x29, x30, [sp], #16\nret\n"},
        {"load_loop", "",
         "ldr x1, [sp, #32]\nldr x2, [sp, #40]\nldr x3, [sp, #48]\nldr x4, [sp, #56]\n"},
        {"store_loop", "",
         "str x1, [sp, #32]\nstr x2, [sp, #40]\nstp x3, x4, [sp, #48]\nadd x1, x1, #1\n"},
        {"fp_chain", "fmov d0, #1.0\nfmov d1, #1.0\n", "fadd d0, d0, d1\nfmul d0, d0, d1\n"},
        {"fp_indep", "fmov d1, #1.0\n",
         "fadd d2, d2, d1\nfadd d3, d3, d1\nfadd d4, d4, d1\nfmul d5, d5, d1\n"},
        {"simd", "movi v1.4s, #1\n",
         "add v2.4s, v2.4s, v1.4s\nadd v3.4s, v3.4s, v1.4s\nmul v4.4s, v4.4s, v1.4s\n"
         "ext v5.16b, v5.16b, v2.16b, #8\n"},
    };
    return k;
}

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "cycle_bench: %s\n", message.c_str());
    std::exit(1);
}

std::string kernel_source(const Kernel& k) {
    return fmt::format(R"(
        .text
        .globl k_run, k_loop
k_run:  stp x29, x30, [sp, #-64]!
        mov x29, sp
        stp x19, x20, [sp, #16]
        mov x19, x0
{}
k_loop:
{}
        subs x19, x19, #1
        b.ne k_loop
        ldp x19, x20, [sp, #16]
        ldp x29, x30, [sp], #64
        ret
{}
)",
                       k.setup, k.body, k.helpers);
}

// One workload on one machine: a kernel or a traced leaf_loop.
struct Workload {
    std::string name;
    std::optional<patcher::TrampolineVariant> traced;
    const Kernel* kernel = nullptr;
};

struct Prepared {
    std::unique_ptr<Machine> machine;
    std::unique_ptr<patcher::Ftrace> ftrace;
    GuestAddr entry;
    GuestAddr boundary; // Executed once per iteration.
};

Prepared prepare(const Workload& w, std::string_view core, CycleAccuracy mode) {
    MachineConfig cfg;
    cfg.core = std::string(core);
    cfg.cycles = mode;
    cfg.instruction_budget = 1'000'000'000;
    auto m = Machine::create(cfg);
    if (!m) {
        die(m.error().message);
    }
    Prepared p;
    p.machine = std::move(*m);
    Machine& machine = *p.machine;
    if (!w.traced) {
        auto obj = machine.load_assembly(kernel_source(*w.kernel), "kernel.S");
        if (!obj) {
            die(obj.error().message);
        }
        p.entry = *machine.symbol("k_run");
        p.boundary = *machine.symbol("k_loop");
        return p;
    }
    patcher::FtraceOptions options;
    options.variant = *w.traced;
    auto ftrace = patcher::Ftrace::create(machine, options);
    if (!ftrace) {
        die(ftrace.error().message);
    }
    p.ftrace = std::move(*ftrace);
    const bool call_ops = patcher::trampoline_layout(*w.traced).call_ops;
    auto obj =
        machine.load_assembly(fmt::format("    .equ FTRACE_CALL_OPS, {}\n{}", call_ops ? 1 : 0,
                                          patcher::embedded_guest_source("ftrace_overhead.S")),
                              "ftrace_overhead.S");
    if (!obj) {
        die(obj.error().message);
    }
    if (auto r = p.ftrace->add_object(*obj); !r) {
        die(r.error().message);
    }
    if (auto r = p.ftrace->enable("leaf"); !r) {
        die(r.error().message);
    }
    p.entry = *machine.symbol("leaf_loop");
    p.boundary = *machine.symbol("leaf");
    return p;
}

uint64_t cycles_for(const Workload& w, std::string_view core, CycleAccuracy mode, uint64_t n) {
    Prepared p = prepare(w, core, mode);
    const uint64_t before = p.machine->cpu_cycles(0);
    auto r = p.machine->call(p.entry, {n});
    if (!r) {
        die(fmt::format("{} on {}: {}", w.name, core, r.error().message));
    }
    return p.machine->cpu_cycles(0) - before;
}

// The words of one steady-state iteration and the host calls it makes.
struct Stream {
    std::vector<std::pair<GuestAddr, InsnWord>> insns;
    int host_calls = 0;
};

Stream capture(const Workload& w, std::string_view core) {
    Prepared p = prepare(w, core, CycleAccuracy::Fast);
    struct Recorder : ExecutionObserver {
        GuestAddr boundary;
        int seen = 0;
        Stream stream;
        void on_instruction(const InsnEvent& e) override {
            if (e.pc == boundary) {
                ++seen;
            }
            if (seen == 3) {
                stream.insns.emplace_back(e.pc, e.word);
            }
        }
        void on_host_call(int, int, uint32_t) override { stream.host_calls += seen == 3; }
    } rec;
    rec.boundary = p.boundary;
    p.machine->add_observer(&rec);
    if (auto r = p.machine->call(p.entry, {6}); !r) {
        die(r.error().message);
    }
    return rec.stream;
}

std::string mca_text(const Stream& s) {
    const Disassembler dis;
    const std::regex address("0x[0-9a-f]{9,}");
    std::string text;
    for (const auto& [pc, word] : s.insns) {
        const DecodedInsn d = dis.decode(word, pc);
        if (!d.valid) {
            die(fmt::format("cannot disassemble {:08x}", word.raw));
        }
        // PC-relative targets are printed as absolute addresses; `.` keeps the same opcode.
        text += (d.branch_target ? std::regex_replace(d.text, address, ".") : d.text) + "\n";
    }
    return text;
}

uint64_t mca_cycles(const std::string& text, std::string_view core, uint64_t n) {
    char path[] = "/tmp/klpemu_cycle_bench_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) {
        die("mkstemp failed");
    }
    close(fd);
    std::ofstream(path) << text;
    const std::string cmd = fmt::format(
        "llvm-mca-19 -mtriple=aarch64-linux-gnu -mcpu={} --call-latency=1 -iterations={} {} "
        ">&1 2>/dev/null",
        core, n, path);
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) {
        die("cannot run llvm-mca-19");
    }
    std::string out;
    char buf[4096];
    while (size_t got = fread(buf, 1, sizeof buf, pipe)) {
        out.append(buf, got);
    }
    pclose(pipe);
    unlink(path);
    std::smatch m;
    if (!std::regex_search(out, m, std::regex("Total Cycles:\\s+(\\d+)"))) {
        die(fmt::format("no Total Cycles from llvm-mca-19 for:\n{}", text));
    }
    return std::stoull(m[1]);
}

double per_iteration(uint64_t short_run, uint64_t long_run) {
    return double(long_run - short_run) / double(kLong - kShort);
}

} // namespace

int main() {
    if (std::system("llvm-mca-19 --version >/dev/null 2>&1") != 0) {
        die("llvm-mca-19 is not installed (Debian package llvm-19)");
    }
    std::vector<Workload> work;
    for (const Kernel& k : kernels()) {
        work.push_back(Workload{std::string(k.name), std::nullopt, &k});
    }
    for (patcher::TrampolineVariant v :
         {patcher::TrampolineVariant::RegsV3, patcher::TrampolineVariant::RegsV4,
          patcher::TrampolineVariant::Regs, patcher::TrampolineVariant::Args,
          patcher::TrampolineVariant::CallOps}) {
        work.push_back(
            Workload{fmt::format("traced_{}", patcher::trampoline_layout(v).name), v, nullptr});
    }
    fmt::print("{:<18} {:<12} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "kernel", "core", "insns",
               "mca", "fast", "pipeline", "fast/mca", "pipe/mca");
    int fast_ok = 0, pipe_ok = 0, total = 0;
    for (const Workload& w : work) {
        for (std::string_view core : kCores) {
            const Stream s = capture(w, core);
            const std::string text = mca_text(s);
            const double mca =
                per_iteration(mca_cycles(text, core, kShort), mca_cycles(text, core, kLong));
            const double host = double(s.host_calls) * double(kHostCallCycles);
            const double fast = per_iteration(cycles_for(w, core, CycleAccuracy::Fast, kShort),
                                              cycles_for(w, core, CycleAccuracy::Fast, kLong)) -
                                host;
            const double pipe = per_iteration(cycles_for(w, core, CycleAccuracy::Pipeline, kShort),
                                              cycles_for(w, core, CycleAccuracy::Pipeline, kLong)) -
                                host;
            const double fr = fast / mca, pr = pipe / mca;
            ++total;
            fast_ok += std::abs(fr - 1.0) <= 0.15;
            pipe_ok += std::abs(pr - 1.0) <= 0.01;
            fmt::print("{:<18} {:<12} {:>6} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.3f} {:>9.3f}{}\n",
                       w.name, core, s.insns.size(), mca, fast, pipe, fr, pr,
                       std::abs(fr - 1.0) > 0.15 ? "  fast>15%" : "");
        }
    }
    fmt::print("fast_within_15pct: {}/{}\n", fast_ok, total);
    fmt::print("pipeline_within_1pct: {}/{}\n", pipe_ok, total);
    return 0;
}
