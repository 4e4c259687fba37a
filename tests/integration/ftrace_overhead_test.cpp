// What one traced call costs, per trampoline variant and core model, as
// patcher::measure_ftrace_overhead() measures it on a real machine (the numbers `klpemu run
// --report overhead` prints and docs/ftrace.md records). Instruction counts are exact and
// pinned; cycles (the machine's per-core model) are checked against windows and against each
// other. A second case checks that the shipped workload is what clang-19 makes of the C source:
// the same instructions per call as tests/data/ftrace/chain.c compiled now.
#include "ftrace_test_util.h"
#include "patcher/ftrace_overhead.h"

#include <fmt/format.h>

#include <map>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

// Extra guest instructions per traced call (pinned: the trampolines are fixed code).
uint64_t expected_instructions(TrampolineVariant v) {
    switch (v) {
    case TrampolineVariant::RegsV3:
        return 40;
    case TrampolineVariant::RegsV4:
        return 43; // the posted code: sub, 14 stp, x28/x29 and both records, b ftrace_common.
    case TrampolineVariant::Regs:
        return 43;
    case TrampolineVariant::Args:
        return 33;
    case TrampolineVariant::CallOps:
        return 40; // 6.17: the 6.4+ direct-call tests on entry and exit (6.3 has 35).
    }
    return 0;
}

} // namespace

TEST_CASE("ftrace overhead: instructions and cycles per traced call") {
    auto rows = measure_ftrace_overhead({"cortex-a53", "neoverse-n1"}, all_trampoline_variants());
    REQUIRE_MESSAGE(rows.ok(), (rows.ok() ? "" : rows.error().message));
    REQUIRE(rows->size() == 10);
    std::string table = "| variant | core | instructions/call | cycles/call |\n|---|---|---|---|\n";
    std::map<std::string, std::map<TrampolineVariant, double>> per_core;
    for (const OverheadRow& row : *rows) {
        CAPTURE(row.core);
        CAPTURE(trampoline_layout(row.variant).name);
        CHECK(row.calls == 64);
        REQUIRE(row.traced.instructions > row.untraced.instructions);
        const uint64_t insns = row.instructions_per_call();
        const double cycles = row.cycles_per_call();
        // A few instructions of scheduler noise per run, never a whole call's worth.
        CHECK((row.traced.instructions - row.untraced.instructions) % row.calls < 8);
        CHECK(insns == expected_instructions(row.variant));
        // The host call alone is kHostCallCycles; the rest is the trampoline, which a core
        // issues at most IssueWidth (up to 8 on neoverse-n1's model) instructions per cycle.
        CHECK(cycles > double(emu::kHostCallCycles + insns / 8));
        CHECK(cycles < double(emu::kHostCallCycles + 4 * insns));
        // Enabling patches text: the writer pays cache maintenance and barriers.
        CHECK(row.enable_cycles > 0);
        per_core[row.core][row.variant] = cycles;
        table += fmt::format("| {} | {} | {} | {:.1f} |\n", trampoline_layout(row.variant).name,
                             row.core, insns, cycles);
    }
    for (auto& [core, per_variant] : per_core) {
        CAPTURE(core);
        // WITH_ARGS saves a third of what WITH_REGS saves: it must be the cheaper trampoline.
        CHECK(per_variant[TrampolineVariant::Args] < per_variant[TrampolineVariant::Regs]);
        CHECK(per_variant[TrampolineVariant::Args] < per_variant[TrampolineVariant::RegsV4]);
        CHECK(per_variant[TrampolineVariant::Args] < per_variant[TrampolineVariant::CallOps]);
    }
    // The out-of-order neoverse-n1 runs every trampoline in fewer cycles than the in-order
    // cortex-a53 (the old one-wide in-order model ranked them the other way round).
    for (TrampolineVariant v : all_trampoline_variants()) {
        CAPTURE(trampoline_layout(v).name);
        CHECK(per_core["neoverse-n1"][v] < per_core["cortex-a53"][v]);
    }
    MESSAGE(table);
}

TEST_CASE("ftrace overhead: an unknown core is an error, not a crash") {
    auto rows = measure_ftrace_overhead({"cortex-z9"}, {TrampolineVariant::Args});
    REQUIRE_FALSE(rows.ok());
    CHECK(rows.error().message.find("cortex-z9") != std::string::npos);
}

TEST_CASE("ftrace overhead: the shipped workload costs what the compiled C source costs") {
    constexpr uint64_t kCalls = 64;
    auto rows = measure_ftrace_overhead({"cortex-a53"}, all_trampoline_variants(), kCalls);
    REQUIRE(rows.ok());
    for (const OverheadRow& row : *rows) {
        CAPTURE(trampoline_layout(row.variant).name);
        auto rig = test::make_ftrace_rig(row.variant, Compiler::Clang);
        emu::Machine& m = *rig.machine;
        const GuestAddr loop = test::fn(m, "leaf_loop");
        const uint64_t i0 = m.instructions();
        REQUIRE(m.call(loop, {kCalls}).ok());
        const uint64_t off = m.instructions() - i0;
        REQUIRE(rig.ftrace->enable("leaf").ok());
        const uint64_t i1 = m.instructions();
        REQUIRE(m.call(loop, {kCalls}).ok());
        const uint64_t on = m.instructions() - i1;
        CHECK((on - off) / kCalls == row.instructions_per_call());
    }
}
