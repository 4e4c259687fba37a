// Generates guest-execution fuzz cases (see guest_case.h).
#include "guest_case.h"

#include "guest_streams.h"

#include <fmt/format.h>

#include <array>

namespace klpemu::fuzz {

namespace {

constexpr std::array<const char*, 5> kFtraceVariants = {"regs-v3", "regs-v4", "regs", "args",
                                                        "call-ops"};

// Function `index`: patchable entry (2 NOPs; call-ops adds 2 before the symbol and a literal),
// a frame record, the stream (sometimes calling another stream function), frame pop, ret.
std::string stream_function(Rng& rng, int index, int functions, bool call_ops, size_t& words) {
    std::string s = "        .p2align 3\n";
    if (call_ops) {
        s += "        nop\n        nop\n";
    }
    s += fmt::format("f{}:\n        nop\n        nop\n", index);
    const bool frame = rng.chance(80);
    if (frame) {
        s += "        stp     x29, x30, [sp, #-16]!\n        mov     x29, sp\n";
    }
    const std::vector<uint32_t> stream = random_stream(rng, 1 + rng.below(48));
    words += stream.size();
    for (uint32_t w : stream) {
        if (functions > 1 && rng.chance(4)) {
            s += fmt::format("        bl      f{}\n", rng.below(uint64_t(functions)));
        }
        s += fmt::format("        .inst   {:#010x}\n", w);
    }
    if (frame) {
        s += "        ldp     x29, x30, [sp], #16\n";
    }
    s += "        ret\n";
    s += fmt::format("        .pushsection __patchable_function_entries, \"awo\", @progbits, f{}\n"
                     "        .p2align 3\n        .quad   f{}{}\n        .popsection\n",
                     index, index, call_ops ? " - 8" : "");
    return s;
}

} // namespace

GuestCase make_guest_case(uint64_t seed) {
    Rng rng(seed);
    GuestCase c;
    c.seed = seed;
    c.cpus = 1 + int(rng.below(8));
    if (rng.chance(50)) {
        c.ftrace = kFtraceVariants[rng.below(kFtraceVariants.size())];
    }
    const int functions = 1 + int(rng.below(4));
    std::string t;
    t +=
        fmt::format("[scenario]\nname = \"guest fuzz {}\"\n\n[machine]\ncpus = {}\n", seed, c.cpus);
    t += fmt::format("seed = {}\nquantum = {}\nbudget = {}\npolicies = \"all\"\n",
                     rng.chance(50) ? 0 : 1 + rng.below(1000), 1 + rng.below(400),
                     2000 + rng.below(30000));
    if (!c.ftrace.empty()) {
        t += fmt::format("ftrace = \"{}\"\n", c.ftrace);
    }
    // The core and the cycle model come from a generator of their own, so that adding them
    // left every earlier seed's streams as they were. A quarter of the cases feed the executed
    // stream to LLVM's MCA pipeline, which must survive every word the guard lets run.
    Rng model_rng(seed ^ 0x6379636c65735fULL);
    static constexpr std::array<std::string_view, 4> kCores = {"", "cortex-a53", "cortex-a72",
                                                               "neoverse-n1"};
    if (const std::string_view core = kCores[model_rng.below(kCores.size())]; !core.empty()) {
        t += fmt::format("core = \"{}\"\n", core);
    }
    if (model_rng.chance(25)) {
        c.cycles = "pipeline";
        t += "cycles = \"pipeline\"\n";
    }
    t += "\n[[object]]\nname = \"vmlinux\"\nkind = \"kernel\"\nasm = \"\"\"\n        .text\n";
    for (int i = 0; i < functions; ++i) {
        t += fmt::format("        .globl  f{}\n", i);
    }
    for (int i = 0; i < functions; ++i) {
        t += stream_function(rng, i, functions, c.ftrace == "call-ops", c.words);
    }
    t += "\"\"\"\n";
    // Tasks: kthreads (some looping) and user tasks over the stream functions.
    const int tasks = int(rng.below(uint64_t(c.cpus) + 2));
    for (int i = 0; i < tasks; ++i) {
        t += fmt::format("\n[[task]]\nname = \"t{}\"\nkind = \"{}\"\nentry = \"f{}\"\n", i,
                         rng.chance(20) ? "user" : "kthread", rng.below(uint64_t(functions)));
        t += fmt::format("args = [{}, {}]\ncpu = {}\n", rng.below(1000), rng.next() >> 1,
                         rng.below(uint64_t(c.cpus)));
        if (rng.chance(30)) {
            t += "loop = true\n";
        } else {
            t += fmt::format("repeat = {}\n", 1 + rng.below(4));
        }
    }
    // Timeline: ftrace on (function or graph tracer), IRQ points, calls, runs.
    if (!c.ftrace.empty()) {
        static constexpr std::array<const char*, 3> kTracers = {"", " tracer=graph",
                                                                " tracer=stacktrace"};
        t += fmt::format("\n[[step]]\ndo = \"ftrace enable f*{}\"\n",
                         kTracers[rng.below(kTracers.size())]);
    }
    uint64_t at = 0;
    const uint64_t steps = 1 + rng.below(6);
    for (uint64_t i = 0; i < steps; ++i) {
        switch (rng.below(4)) {
        case 0:
            at += 1 + rng.below(3000);
            t += fmt::format("\n[[step]]\ndo = \"irq {}\"\nat = {}\n", rng.below(uint64_t(c.cpus)),
                             at);
            break;
        case 1:
            t += fmt::format("\n[[step]]\ndo = \"call f{} {}\"\n", rng.below(uint64_t(functions)),
                             rng.below(100));
            break;
        case 2:
            if (!c.ftrace.empty()) {
                t += "\n[[step]]\ndo = \"ftrace disable f*\"\n";
                break;
            }
            [[fallthrough]];
        default:
            t += fmt::format("\n[[step]]\ndo = \"run {}\"\n", 1 + rng.below(5000));
            break;
        }
    }
    t += "\n[[step]]\ndo = \"run 100000\"\n";
    c.toml = std::move(t);
    return c;
}

} // namespace klpemu::fuzz
