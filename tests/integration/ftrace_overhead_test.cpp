// What one traced call costs, per trampoline variant and core model: instructions and cycles
// added to each call of leaf() by the function tracer (mov x9, x30; bl; the trampoline; the
// tracer stub and its host call, charged at emu::kHostCallCycles). Instruction counts are exact
// and pinned; cycles (the machine's per-core model) are checked against windows and against
// each other. The table is printed and recorded in docs/ftrace.md.
#include "ftrace_test_util.h"

#include <fmt/format.h>

#include <map>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

struct Cost {
    uint64_t instructions = 0;
    uint64_t cycles = 0;
};

Cost run_loop(emu::Machine& m, GuestAddr loop, uint64_t calls) {
    const uint64_t i0 = m.instructions();
    const uint64_t c0 = m.cpu_cycles(0);
    auto r = m.call(loop, {calls});
    REQUIRE(r.ok());
    return Cost{m.instructions() - i0, m.cpu_cycles(0) - c0};
}

// Extra guest instructions per traced call (pinned: the trampolines are fixed code).
uint64_t expected_instructions(TrampolineVariant v) {
    switch (v) {
    case TrampolineVariant::RegsV3:
        return 40;
    case TrampolineVariant::RegsV4:
        return 42;
    case TrampolineVariant::Regs:
        return 43;
    case TrampolineVariant::Args:
        return 33;
    case TrampolineVariant::CallOps:
        return 35;
    }
    return 0;
}

} // namespace

TEST_CASE("ftrace overhead: instructions and cycles per traced call") {
    constexpr uint64_t kCalls = 64;
    std::string table = "| variant | core | instructions/call | cycles/call |\n|---|---|---|---|\n";
    for (const char* core : {"cortex-a53", "neoverse-n1"}) {
        std::map<TrampolineVariant, double> per_variant;
        for (TrampolineVariant variant :
             {TrampolineVariant::RegsV3, TrampolineVariant::RegsV4, TrampolineVariant::Regs,
              TrampolineVariant::Args, TrampolineVariant::CallOps}) {
            CAPTURE(core);
            CAPTURE(trampoline_layout(variant).name);
            emu::MachineConfig config;
            config.core = core;
            auto rig = test::make_ftrace_rig(variant, Compiler::Clang, config);
            emu::Machine& m = *rig.machine;
            const GuestAddr loop = test::fn(m, "leaf_loop");
            const Cost off = run_loop(m, loop, kCalls);
            REQUIRE(rig.ftrace->enable("leaf").ok());
            const Cost on = run_loop(m, loop, kCalls);
            REQUIRE(on.instructions > off.instructions);
            const uint64_t insns = (on.instructions - off.instructions) / kCalls;
            const double cycles = double(on.cycles - off.cycles) / double(kCalls);
            // A few instructions of scheduler noise per run, never a whole call's worth.
            CHECK((on.instructions - off.instructions) % kCalls < 8);
            CHECK(insns == expected_instructions(variant));
            // The host call alone is kHostCallCycles; the rest is the trampoline.
            CHECK(cycles > double(emu::kHostCallCycles + insns / 2));
            CHECK(cycles < double(emu::kHostCallCycles + 4 * insns));
            per_variant[variant] = cycles;
            table += fmt::format("| {} | {} | {} | {:.1f} |\n", trampoline_layout(variant).name,
                                 core, insns, cycles);
        }
        // WITH_ARGS saves a third of what WITH_REGS saves: it must be the cheaper trampoline.
        CHECK(per_variant[TrampolineVariant::Args] < per_variant[TrampolineVariant::Regs]);
        CHECK(per_variant[TrampolineVariant::Args] < per_variant[TrampolineVariant::RegsV4]);
        CHECK(per_variant[TrampolineVariant::Args] < per_variant[TrampolineVariant::CallOps]);
    }
    MESSAGE(table);
}
