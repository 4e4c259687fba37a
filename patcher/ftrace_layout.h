// The trampoline variants klpemu can install and, for each, where the saved registers live in
// the frame it hands to the tracer (ftrace_regs for WITH_ARGS, pt_regs for WITH_REGS). The C++
// ops callbacks read arguments and rewrite pc (livepatch) and lr (graph tracer) through
// FtraceRegs, which hides these offsets, exactly as ftrace_regs_set_instruction_pointer() and
// friends hide them in the kernel (reference §2, §3). Offsets are from the register-block
// pointer the trampoline passes in x3.
#pragma once

#include "emu/result.h"

#include <cstdint>
#include <string_view>

namespace klpemu::patcher {

enum class TrampolineVariant {
    RegsV3,  // Torsten Duwe's v3 (2018): stores below SP, caller invisible (seeds/001).
    RegsV4,  // v4..v8 (2019): two frame records, the posted layout (seeds/000).
    Regs,    // v5.5..v6.1 ftrace_regs_caller, full pt_regs.
    Args,    // v6.2+ ftrace_caller with ftrace_regs.
    CallOps, // v6.3+ ftrace_caller with the per-call-site ops literal.
};

struct TrampolineLayout {
    TrampolineVariant variant;
    std::string_view name;        // "regs-v3", ...: the scenario spelling.
    std::string_view source_file; // patcher/guest/*.S
    std::string_view entry;       // ftrace_caller or ftrace_regs_caller.
    bool call_ops = false;        // Needs -fpatchable-function-entry=4,2 and the literal.
    uint32_t fp = 0;              // Saved x29 at entry (the caller's frame).
    uint32_t lr = 0;              // Saved x9: the traced function's return address.
    uint32_t sp = 0;              // SP at entry.
    uint32_t pc = 0;              // Saved x30: where the trampoline returns (rec->ip + 4).
};

// x0..x8 are at 8*n in every layout.
inline constexpr int kFtraceArgRegs = 9;

const TrampolineLayout& trampoline_layout(TrampolineVariant variant);

// Whether the trampoline hands its callbacks a full pt_regs (CONFIG_DYNAMIC_FTRACE_WITH_REGS
// without WITH_ARGS): regs, regs-v3, regs-v4.
inline bool saves_pt_regs(TrampolineVariant v) {
    return v == TrampolineVariant::Regs || v == TrampolineVariant::RegsV3 ||
           v == TrampolineVariant::RegsV4;
}

// "regs-v3" | "regs-v4" | "regs" | "args" | "call-ops".
Result<TrampolineVariant> parse_trampoline_variant(std::string_view name);

} // namespace klpemu::patcher
