// Kernel eras: which arm64 kernel a run models. Every mechanism klpemu plays (the ftrace
// trampoline and the entry point it patches, the call-site state machine, the graph tracer's
// return path, pt_regs and the exception-entry frame, the task-stack bottom, the unwinder, and
// which features exist at all) changed over the releases from Torsten Duwe's 2018 series to
// v6.17. A run must not mix them: a v4 trampoline on today's entry code is a kernel that never
// existed. This table is the one place that knows that history; mechanisms ask it
// (`era_info(era).callsite_writes`, `.has(EraFeature::CallOps)`) instead of comparing eras.
//
// It lives in emu because the machine's own pieces (pt_regs, exception entry, task bottom)
// depend on it as much as the patcher's and the unwinder's. Trampolines and unwinder policies
// are named by their scenario spelling ("regs-v4", "kunwind") so emu names no patcher type.
// The Kconfig set and the asm-offsets layouts are exposed for building a user's own
// entry-ftrace.S against the era (docs/eras.md).
#pragma once

#include "emu/result.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::emu {

enum class KernelEra {
    V4_19_v3, // Torsten Duwe, "arm64: implement ftrace with regs" v3 (Oct 2018, on 4.19-rc).
    V4_19_v4, // The same series, v4 (Jan 2019): Ard's two frames, kthread-bottom unwinder.
    V5_5,     // DYNAMIC_FTRACE_WITH_REGS merged (3b23e4991fb6, Jan 2020).
    V5_10,    // WITH_REGS, pt_regs grown by lockdep_hardirqs/exit_rcu (LTS).
    V6_1,     // Last WITH_REGS kernel (LTS); graph tracer as an ops.
    V6_3,     // WITH_ARGS (6.2) + DYNAMIC_FTRACE_WITH_CALL_OPS (baaf553d3bc3).
    V6_4,     // + DYNAMIC_FTRACE_WITH_DIRECT_CALLS (Florent Revest).
    V6_5,     // return_to_handler passes a struct fgraph_ret_regs (v6.5..v6.12).
    V6_17,    // Metadata frame records (6.13), reliable stacktrace and livepatch (6.17).
};

inline constexpr KernelEra kDefaultEra = KernelEra::V6_17;

// Who writes the first patchable NOP (`mov x9, x30`).
enum class CallSiteWrites {
    MovAtInit,   // ftrace_init_nop, once, before the code can run (v5.5+).
    MovAtEnable, // ftrace_make_call writes MOV then BL; ftrace_make_nop reverts both (v3/v4):
                 // a live write of a word outside the CMODX-safe set.
};

// Which entry point an enabled call site branches to.
enum class PatchedEntry {
    RegsCaller,           // Always ftrace_regs_caller (the posted v3/v4 series).
    CallerUnlessSaveRegs, // ftrace_caller; ftrace_regs_caller if an ops on the site has
                          // FTRACE_OPS_FL_SAVE_REGS (v5.5..v6.1, ftrace_modify_call).
    Caller,               // ftrace_caller only (WITH_ARGS, v6.2+).
};

// The frame record kernel_entry leaves in pt_regs.stackframe for an exception from EL1.
enum class ExceptionFrame {
    ChainFpElr, // {x29, ELR}: the unwinder walks straight through the exception (<= 6.12).
    MetaPtRegs, // {0, 0, PT_REGS} metadata: an explicit boundary (c2c6b27b5aa1, 6.13).
};

// How the bottom of a task stack is marked.
enum class TaskBottom {
    ZeroFp,     // The first frame's x29 is 0 (4.19..5.13 ret_from_fork).
    ZeroRecord, // {0, 0} at task_pt_regs()->stackframe (5.14..6.12).
    FinalMeta,  // {0, 0, FINAL} metadata (6.13+).
};

enum class EraFeature : uint32_t {
    Livepatch = 1u << 0,           // HAVE_LIVEPATCH (v6.17; the posted v3/v4 series had it).
    ReliableStacktrace = 1u << 1,  // HAVE_RELIABLE_STACKTRACE (v4's own; v6.17).
    CallOps = 1u << 2,             // DYNAMIC_FTRACE_WITH_CALL_OPS (v6.3).
    DirectCalls = 1u << 3,         // DYNAMIC_FTRACE_WITH_DIRECT_CALLS (v6.4).
    GraphCaller = 1u << 4,         // ftrace_graph_caller patched at ftrace_graph_call (<= 5.19).
    ModuleInitFtracePlt = 1u << 5, // .init.text.ftrace_trampoline (a7ed7b9d0ebb, v6.17-rc5).
    ModulePlts = 1u << 6,          // ARM64_MODULE_PLTS: far modules load at all.
    // ftrace_find_callable_addr (v5.19, "arm64: ftrace: consistently handle PLTs"):
    // ftrace_modify_call goes through a far module's ftrace PLTs too. Before it, moving a far
    // site between ftrace_caller and ftrace_regs_caller failed validation (ftrace_bug).
    CallablePlts = 1u << 7,
    // struct plt_entry is adrp/add/br x16 (v5.0, "arm64/module: switch to ADRP/ADD sequences for
    // PLT entries"); up to 4.19 it was movn/movk/movk/br x16, 16 bytes.
    AdrpPlts = 1u << 8,
};

// One asm-offsets.h constant (`#define NAME VALUE`).
struct AsmOffset {
    std::string_view name;
    uint32_t value = 0;
};

struct KernelEraInfo {
    KernelEra era;
    std::string_view name;    // "4.19-v3", ...: the scenario spelling.
    std::string_view models;  // One line: what source this era reproduces.
    std::string_view commits; // The commits/mails it is built from.

    // ftrace.
    std::string_view default_trampoline;           // The variant a scenario gets by default.
    std::span<const std::string_view> trampolines; // Variants that existed in this era.
    PatchedEntry patched_entry;
    CallSiteWrites callsite_writes;
    // Bytes return_to_handler reserves, which also names what it passes to
    // ftrace_return_to_handler: 64, its x29 (<= 6.4); 80, a struct fgraph_ret_regs (6.5..6.12);
    // 112, a struct ftrace_regs (6.13+).
    uint32_t return_to_handler_frame;

    // Machine.
    uint32_t pt_regs_size;       // PT_REGS_SIZE.
    uint32_t pt_regs_stackframe; // S_STACKFRAME.
    ExceptionFrame exception_frame;
    TaskBottom task_bottom;

    // Unwinder.
    std::string_view default_unwinder;

    uint32_t features;                         // EraFeature bits.
    std::span<const std::string_view> kconfig; // CONFIG_* symbols set (without CONFIG_).
    std::span<const AsmOffset> asm_offsets;    // pt_regs (and ftrace_regs) offsets.

    bool has(EraFeature f) const { return (features & uint32_t(f)) != 0; }
    bool allows_trampoline(std::string_view variant) const;
};

// Every era, oldest first.
std::span<const KernelEraInfo> kernel_eras();
const KernelEraInfo& era_info(KernelEra era);
// "4.19-v3" | ... | "6.17"; the error lists the names.
Result<KernelEra> parse_kernel_era(std::string_view name);
std::string join_era_names();

// The era's Kconfig set for a build with the given trampoline: the era's own symbols plus, when
// the trampoline is "call-ops", DYNAMIC_FTRACE_WITH_CALL_OPS and (from 6.4, which selects it
// only with CALL_OPS) DYNAMIC_FTRACE_WITH_DIRECT_CALLS.
std::vector<std::string_view> era_kconfig(const KernelEraInfo& era, std::string_view trampoline);

// The assembler lines that make the machine's guest code (emu/guest/entry.S, sched.S) this era's:
// `.equ`s for PT_REGS_SIZE, S_STACKFRAME and FRAME_RECORD_META (1: the kernel has 6.13's
// metadata frame records, {0, 0, PT_REGS} at an exception and {0, 0, FINAL} at a task's bottom;
// 0: an EL1 exception chains {x29, ELR} and an EL0 entry leaves {0, 0}), then a cpp line marker
// so that diagnostics and the line table still name `file_name`'s own lines.
std::string era_guest_prelude(const KernelEraInfo& era, std::string_view file_name);

// Why `trampoline` / `unwinder` never ran on this era's kernel, or empty if it did. Scenarios
// print these as warnings when explicit keys override the era.
std::string era_trampoline_mismatch(const KernelEraInfo& era, std::string_view trampoline);
std::string era_unwinder_mismatch(const KernelEraInfo& era, std::string_view unwinder);

} // namespace klpemu::emu
