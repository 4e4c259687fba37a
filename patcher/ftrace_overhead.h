// What the function tracer costs each traced call, per trampoline variant and core model: the
// number behind the kernel's "ftrace overhead" discussions (the REGS -> ARGS move of v6.2, the
// CALL_OPS literal of v6.3). A real machine runs leaf_loop() (patcher/guest/ftrace_overhead.S)
// once untraced and once with the function tracer on leaf(); the difference per call covers
// `mov x9, x30; bl`, the trampoline, the tracer stub and its host call (emu::kHostCallCycles),
// minus the two NOPs the untraced call executes. Enabling the tracer is measured too: the
// writer-side cycles of patching the call site (emu::Machine::text_patch_cycles). `klpemu run
// --report overhead` prints both.
#pragma once

#include "emu/cycle_model.h"
#include "emu/result.h"
#include "patcher/ftrace_layout.h"

#include <cstdint>
#include <string>
#include <vector>

namespace klpemu::patcher {

// Guest instructions and CPU-0 cycles of one run of leaf_loop().
struct OverheadCost {
    uint64_t instructions = 0;
    uint64_t cycles = 0;
};

// One (variant, core) measurement.
struct OverheadRow {
    TrampolineVariant variant = TrampolineVariant::Args;
    std::string core;
    uint64_t calls = 0;         // leaf() calls per run.
    OverheadCost untraced;      // leaf() not traced.
    OverheadCost traced;        // The function tracer on leaf().
    uint64_t enable_cycles = 0; // Text patching to enable the tracer (writer side).

    // Instructions the tracer adds to one call (rounded down: a run may add a few scheduler
    // instructions, never a call's worth).
    uint64_t instructions_per_call() const;
    // Cycles the tracer adds to one call, averaged over the run.
    double cycles_per_call() const;
};

// The trampoline variants in documentation order: regs-v3, regs-v4, regs, args, call-ops.
std::vector<TrampolineVariant> all_trampoline_variants();

// Measures every variant on every core (rows ordered by core, then variant) with `calls` calls
// per run in the `cycles` model; an unknown core or a guest failure is an error.
Result<std::vector<OverheadRow>>
measure_ftrace_overhead(const std::vector<std::string>& cores,
                        const std::vector<TrampolineVariant>& variants, uint64_t calls = 64,
                        CycleAccuracy cycles = CycleAccuracy::Fast);

} // namespace klpemu::patcher
