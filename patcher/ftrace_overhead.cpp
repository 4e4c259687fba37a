// Measures the per-call cost of each ftrace trampoline variant on a real machine (see
// ftrace_overhead.h): one fresh machine per (core, variant), leaf_loop() run untraced and then
// with the function tracer on leaf(), the same way the kernel's users measure it: the same
// workload with tracing off and on.
#include "patcher/ftrace_overhead.h"

#include "emu/machine.h"
#include "patcher/ftrace.h"

#include <fmt/format.h>

#include <memory>

namespace klpemu::patcher {

std::string_view embedded_guest_source(std::string_view file_name);

namespace {

constexpr std::string_view kWorkload = "ftrace_overhead.S";

// The cost of one leaf_loop(calls) on CPU 0.
Result<OverheadCost> run_loop(emu::Machine& machine, GuestAddr loop, uint64_t calls) {
    const uint64_t instructions = machine.instructions();
    const uint64_t cycles = machine.cpu_cycles(0);
    auto result = machine.call(loop, {calls});
    if (!result.ok()) {
        return make_error("ftrace overhead: leaf_loop: {}", result.error().message);
    }
    return OverheadCost{machine.instructions() - instructions, machine.cpu_cycles(0) - cycles};
}

Result<OverheadRow> measure_one(const std::string& core, TrampolineVariant variant, uint64_t calls,
                                CycleAccuracy cycles) {
    const TrampolineLayout& layout = trampoline_layout(variant);
    emu::MachineConfig config;
    config.core = core;
    config.cycles = cycles;
    config.observe_memory_writes = true; // Every ftrace check on, as in a scenario run.
    auto machine = emu::Machine::create(config);
    if (!machine.ok()) {
        return machine.error();
    }
    emu::Machine& m = **machine;
    FtraceOptions options;
    options.variant = variant;
    auto ftrace = Ftrace::create(m, options);
    if (!ftrace.ok()) {
        return ftrace.error();
    }
    const std::string_view source = embedded_guest_source(kWorkload);
    KLP_CHECK(!source.empty(), "guest source {} is not embedded", kWorkload);
    auto object = m.load_assembly(
        fmt::format("    .equ FTRACE_CALL_OPS, {}\n{}", layout.call_ops ? 1 : 0, source),
        kWorkload);
    if (!object.ok()) {
        return make_error("ftrace overhead: loading {}: {}", kWorkload, object.error().message);
    }
    KLP_TRY((*ftrace)->add_object(*object));
    auto loop = m.symbol("leaf_loop");
    if (!loop.ok()) {
        return loop.error();
    }

    OverheadRow row;
    row.variant = variant;
    row.core = core;
    row.calls = calls;
    auto untraced = run_loop(m, *loop, calls);
    if (!untraced.ok()) {
        return untraced.error();
    }
    row.untraced = *untraced;
    const uint64_t patch_before = m.text_patch_cycles();
    KLP_TRY((*ftrace)->enable("leaf"));
    row.enable_cycles = m.text_patch_cycles() - patch_before;
    auto traced = run_loop(m, *loop, calls);
    if (!traced.ok()) {
        return traced.error();
    }
    row.traced = *traced;
    if (row.traced.instructions < row.untraced.instructions ||
        row.traced.cycles < row.untraced.cycles) {
        return make_error("ftrace overhead: {} on {}: the traced run was cheaper than the "
                          "untraced one",
                          layout.name, core);
    }
    return row;
}

} // namespace

uint64_t OverheadRow::instructions_per_call() const {
    if (calls == 0) {
        return 0;
    }
    return (traced.instructions - untraced.instructions) / calls;
}

double OverheadRow::cycles_per_call() const {
    if (calls == 0) {
        return 0.0;
    }
    return double(traced.cycles - untraced.cycles) / double(calls);
}

std::vector<TrampolineVariant> all_trampoline_variants() {
    return {TrampolineVariant::RegsV3, TrampolineVariant::RegsV4, TrampolineVariant::Regs,
            TrampolineVariant::Args, TrampolineVariant::CallOps};
}

Result<std::vector<OverheadRow>>
measure_ftrace_overhead(const std::vector<std::string>& cores,
                        const std::vector<TrampolineVariant>& variants, uint64_t calls,
                        CycleAccuracy cycles) {
    if (calls == 0) {
        return make_error("ftrace overhead: the number of calls must be positive");
    }
    std::vector<OverheadRow> rows;
    for (const std::string& core : cores) {
        for (TrampolineVariant variant : variants) {
            auto row = measure_one(core, variant, calls, cycles);
            if (!row.ok()) {
                return row.error();
            }
            rows.push_back(std::move(*row));
        }
    }
    return rows;
}

} // namespace klpemu::patcher
