// The kernel-era table: the facts per release, read from the kernel sources and the seed mails
// (docs/eras.md cites them per row). Nothing else in klpemu compares eras.
#include "emu/kernel_era.h"

#include "emu/check.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace klpemu::emu {

namespace {

using Names = std::array<std::string_view, 1>;

constexpr Names kV3Trampolines{"regs-v3"};
constexpr Names kV4Trampolines{"regs-v4"};
constexpr Names kRegsTrampolines{"regs"};
constexpr std::array<std::string_view, 2> kArgsTrampolines{"args", "call-ops"};

// Kconfig symbols (without CONFIG_) that decide what entry-ftrace.S, ftrace.c, module-plts.c
// and stacktrace.c build. DYNAMIC_FTRACE_WITH_CALL_OPS is added per build (era_kconfig).
constexpr std::array<std::string_view, 6> kKconfigSeries{"ARM64",
                                                         "DYNAMIC_FTRACE",
                                                         "DYNAMIC_FTRACE_WITH_REGS",
                                                         "FUNCTION_GRAPH_TRACER",
                                                         "ARM64_MODULE_PLTS",
                                                         "LIVEPATCH"};
constexpr std::array<std::string_view, 7> kKconfigSeriesV4{"ARM64",
                                                           "DYNAMIC_FTRACE",
                                                           "DYNAMIC_FTRACE_WITH_REGS",
                                                           "FUNCTION_GRAPH_TRACER",
                                                           "ARM64_MODULE_PLTS",
                                                           "LIVEPATCH",
                                                           "HAVE_RELIABLE_STACKTRACE"};
constexpr std::array<std::string_view, 5> kKconfigRegs{
    "ARM64", "DYNAMIC_FTRACE", "DYNAMIC_FTRACE_WITH_REGS", "FUNCTION_GRAPH_TRACER",
    "ARM64_MODULE_PLTS"};
constexpr std::array<std::string_view, 5> kKconfigArgs{
    "ARM64", "DYNAMIC_FTRACE", "DYNAMIC_FTRACE_WITH_ARGS", "FUNCTION_GRAPH_TRACER",
    "ARM64_MODULE_PLTS"};
constexpr std::array<std::string_view, 7> kKconfigV617{"ARM64",
                                                       "DYNAMIC_FTRACE",
                                                       "DYNAMIC_FTRACE_WITH_ARGS",
                                                       "FUNCTION_GRAPH_TRACER",
                                                       "HAVE_RELIABLE_STACKTRACE",
                                                       "HAVE_LIVEPATCH",
                                                       "LIVEPATCH"};

// struct pt_regs. regs[0..30], sp, pc, pstate are fixed since 3.7; the tail moved:
//   4.19, 5.5   orig_x0 272, syscallno 280, orig_addr_limit 288, unused/pmr_save 296,
//               stackframe[2] 304                                           size 320
//   5.10, 6.1   ... stackframe[2] 304, lockdep_hardirqs 320, exit_rcu 328   size 336
//   6.13+       ... stackframe = frame_record_meta {fp, lr, type} 296..319,
//               lockdep_hardirqs 320, exit_rcu 328                          size 336
constexpr std::array<AsmOffset, 8> kPtRegs320{{{"S_FP", 232},
                                               {"S_LR", 240},
                                               {"S_SP", 248},
                                               {"S_PC", 256},
                                               {"S_PSTATE", 264},
                                               {"S_ORIG_X0", 272},
                                               {"S_STACKFRAME", 304},
                                               {"PT_REGS_SIZE", 320}}};
constexpr std::array<AsmOffset, 8> kPtRegs336{{{"S_FP", 232},
                                               {"S_LR", 240},
                                               {"S_SP", 248},
                                               {"S_PC", 256},
                                               {"S_PSTATE", 264},
                                               {"S_ORIG_X0", 272},
                                               {"S_STACKFRAME", 304},
                                               {"PT_REGS_SIZE", 336}}};
// Tables made of others, entries in order (asm-offsets.h is emitted in this order).
template <size_t A, size_t B>
constexpr std::array<AsmOffset, A + B> concat(const std::array<AsmOffset, A>& a,
                                              const std::array<AsmOffset, B>& b) {
    std::array<AsmOffset, A + B> out{};
    std::copy(a.begin(), a.end(), out.begin());
    std::copy(b.begin(), b.end(), out.begin() + A);
    return out;
}

// WITH_ARGS kernels also carry struct ftrace_regs (FREGS_*; FREGS_DIRECT_TRAMP from 6.4).
constexpr std::array<AsmOffset, 7> kFregs63{{{"FREGS_X0", 0},
                                             {"FREGS_X8", 64},
                                             {"FREGS_FP", 80},
                                             {"FREGS_LR", 88},
                                             {"FREGS_SP", 96},
                                             {"FREGS_PC", 104},
                                             {"FREGS_SIZE", 112}}};
constexpr std::array<AsmOffset, 8> kFregs64{{{"FREGS_X0", 0},
                                             {"FREGS_X8", 64},
                                             {"FREGS_DIRECT_TRAMP", 72},
                                             {"FREGS_FP", 80},
                                             {"FREGS_LR", 88},
                                             {"FREGS_SP", 96},
                                             {"FREGS_PC", 104},
                                             {"FREGS_SIZE", 112}}};
// 6.5..6.12 add struct fgraph_ret_regs for return_to_handler (HAVE_FUNCTION_GRAPH_RETVAL, v6.5;
// gone in 6.13): regs[8], fp, one unused word. FGRET_REGS_X1..X7 follow from FGRET_REGS_X0.
constexpr std::array<AsmOffset, 3> kFgraphRetRegs{
    {{"FGRET_REGS_X0", 0}, {"FGRET_REGS_FP", 64}, {"FGRET_REGS_SIZE", 80}}};
// 6.13+: pt_regs.stackframe is a frame_record_meta (see above).
constexpr std::array<AsmOffset, 9> kPtRegs617{{{"S_FP", 232},
                                               {"S_LR", 240},
                                               {"S_SP", 248},
                                               {"S_PC", 256},
                                               {"S_PSTATE", 264},
                                               {"S_ORIG_X0", 272},
                                               {"S_STACKFRAME", 296},
                                               {"S_STACKFRAME_TYPE", 312},
                                               {"PT_REGS_SIZE", 336}}};
constexpr auto kPtRegsFregs63 = concat(kPtRegs336, kFregs63);
constexpr auto kPtRegsFregs64 = concat(kPtRegs336, kFregs64);
constexpr auto kPtRegsFregs65 = concat(kPtRegsFregs64, kFgraphRetRegs);
constexpr auto kPtRegsFregs617 = concat(kPtRegs617, kFregs64);

constexpr uint32_t bits(std::initializer_list<EraFeature> fs) {
    uint32_t b = 0;
    for (EraFeature f : fs) {
        b |= uint32_t(f);
    }
    return b;
}

using F = EraFeature;

// return_to_handler: <= 6.4 reserved 64 bytes for x0..x7 and passed x29 in x0; 6.5 moved to
// struct fgraph_ret_regs (x0..x7, fp: 80 bytes, "6.5" below); 6.13 to an ftrace_regs
// (FREGS_SIZE 112).
const std::array<KernelEraInfo, 9> kEras{{
    {KernelEra::V4_19_v3, "4.19-v3",
     "Torsten Duwe's ftrace-with-regs v3 as Ard Biesheuvel reviewed it (seeds/001)",
     "lkml 20181001140910 (v3 2/4); review 2 Oct 2018", "regs-v3", kV3Trampolines,
     PatchedEntry::RegsCaller, CallSiteWrites::MovAtEnable, 64, 320, 304,
     ExceptionFrame::ChainFpElr, TaskBottom::ZeroFp, "fp-naive",
     bits({F::Livepatch, F::GraphCaller, F::ModulePlts}), kKconfigSeries, kPtRegs320},
    {KernelEra::V4_19_v4, "4.19-v4",
     "the same series, v4 as posted (seeds/000, 002): two frames, kthread-bottom unwinder",
     "lkml cover letter v4 (Jan 2019)", "regs-v4", kV4Trampolines, PatchedEntry::RegsCaller,
     CallSiteWrites::MovAtEnable, 64, 320, 304, ExceptionFrame::ChainFpElr, TaskBottom::ZeroFp,
     "seed-v4", bits({F::Livepatch, F::ReliableStacktrace, F::GraphCaller, F::ModulePlts}),
     kKconfigSeriesV4, kPtRegs320},
    {KernelEra::V5_5, "5.5", "v5.5 DYNAMIC_FTRACE_WITH_REGS, Mark Rutland's rework",
     "3b23e4991fb6 (arm64: implement ftrace with regs)", "regs", kRegsTrampolines,
     PatchedEntry::CallerUnlessSaveRegs, CallSiteWrites::MovAtInit, 64, 320, 304,
     ExceptionFrame::ChainFpElr, TaskBottom::ZeroFp, "fp-naive",
     bits({F::GraphCaller, F::ModulePlts, F::AdrpPlts}), kKconfigRegs, kPtRegs320},
    {KernelEra::V5_10, "5.10", "v5.10 LTS: WITH_REGS, pt_regs with lockdep_hardirqs/exit_rcu",
     "v5.10", "regs", kRegsTrampolines, PatchedEntry::CallerUnlessSaveRegs,
     CallSiteWrites::MovAtInit, 64, 336, 304, ExceptionFrame::ChainFpElr, TaskBottom::ZeroFp,
     "fp-naive", bits({F::GraphCaller, F::ModulePlts, F::AdrpPlts}), kKconfigRegs, kPtRegs336},
    {KernelEra::V6_1, "6.1", "v6.1 LTS: the last WITH_REGS kernel; final {0,0} record", "v6.1",
     "regs", kRegsTrampolines, PatchedEntry::CallerUnlessSaveRegs, CallSiteWrites::MovAtInit, 64,
     336, 304, ExceptionFrame::ChainFpElr, TaskBottom::ZeroRecord, "fp-naive",
     bits({F::ModulePlts, F::CallablePlts, F::AdrpPlts}), kKconfigRegs, kPtRegs336},
    {KernelEra::V6_3, "6.3", "v6.3: WITH_ARGS ftrace_caller and CALL_OPS",
     "26299b3f6ba2 (REGS to ARGS, 6.2), baaf553d3bc3 (CALL_OPS)", "args", kArgsTrampolines,
     PatchedEntry::Caller, CallSiteWrites::MovAtInit, 64, 336, 304, ExceptionFrame::ChainFpElr,
     TaskBottom::ZeroRecord, "fp-naive",
     bits({F::CallOps, F::ModulePlts, F::CallablePlts, F::AdrpPlts}), kKconfigArgs, kPtRegsFregs63},
    {KernelEra::V6_4, "6.4", "v6.4: CALL_OPS with ops->direct_call (DIRECT_CALLS)",
     "2aa6ac03516d (arm64: ftrace: Add direct call support)", "args", kArgsTrampolines,
     PatchedEntry::Caller, CallSiteWrites::MovAtInit, 64, 336, 304, ExceptionFrame::ChainFpElr,
     TaskBottom::ZeroRecord, "fp-naive",
     bits({F::CallOps, F::DirectCalls, F::ModulePlts, F::CallablePlts, F::AdrpPlts}), kKconfigArgs,
     kPtRegsFregs64},
    {KernelEra::V6_5, "6.5",
     "v6.5..v6.12: return_to_handler saves a struct fgraph_ret_regs for ftrace_return_to_handler",
     "arm64: ftrace: Enable HAVE_FUNCTION_GRAPH_RETVAL (Donglin Peng, v6.5)", "args",
     kArgsTrampolines, PatchedEntry::Caller, CallSiteWrites::MovAtInit, 80, 336, 304,
     ExceptionFrame::ChainFpElr, TaskBottom::ZeroRecord, "fp-naive",
     bits({F::CallOps, F::DirectCalls, F::ModulePlts, F::CallablePlts, F::AdrpPlts}), kKconfigArgs,
     kPtRegsFregs65},
    {KernelEra::V6_17, "6.17",
     "v6.17: metadata frame records, reliable stacktrace, livepatch, init ftrace PLT",
     "c2c6b27b5aa1, 32ed1205682e (6.13), 805f13e403cd, fd1e0fd71f65, a7ed7b9d0ebb (6.17)", "args",
     kArgsTrampolines, PatchedEntry::Caller, CallSiteWrites::MovAtInit, 112, 336, 296,
     ExceptionFrame::MetaPtRegs, TaskBottom::FinalMeta, "kunwind",
     bits({F::Livepatch, F::ReliableStacktrace, F::CallOps, F::DirectCalls, F::ModuleInitFtracePlt,
           F::ModulePlts, F::CallablePlts, F::AdrpPlts}),
     kKconfigV617, kPtRegsFregs617},
}};

} // namespace

bool KernelEraInfo::allows_trampoline(std::string_view variant) const {
    return std::find(trampolines.begin(), trampolines.end(), variant) != trampolines.end();
}

std::span<const KernelEraInfo> kernel_eras() {
    return kEras;
}

const KernelEraInfo& era_info(KernelEra era) {
    for (const KernelEraInfo& e : kEras) {
        if (e.era == era) {
            return e;
        }
    }
    KLP_UNREACHABLE("unknown kernel era {}", int(era));
}

std::string join_era_names() {
    std::string out;
    for (const KernelEraInfo& e : kEras) {
        out += fmt::format("{}{}", out.empty() ? "" : ", ", e.name);
    }
    return out;
}

Result<KernelEra> parse_kernel_era(std::string_view name) {
    for (const KernelEraInfo& e : kEras) {
        if (e.name == name) {
            return e.era;
        }
    }
    return make_error("unknown kernel '{}' (expected one of {})", name, join_era_names());
}

std::vector<std::string_view> era_kconfig(const KernelEraInfo& era, std::string_view trampoline) {
    std::vector<std::string_view> out(era.kconfig.begin(), era.kconfig.end());
    if (trampoline == "call-ops") {
        out.push_back("DYNAMIC_FTRACE_WITH_CALL_OPS");
        // arm64 selects HAVE_DYNAMIC_FTRACE_WITH_DIRECT_CALLS only with CALL_OPS.
        if (era.has(EraFeature::DirectCalls)) {
            out.push_back("DYNAMIC_FTRACE_WITH_DIRECT_CALLS");
        }
    }
    return out;
}

std::string era_guest_prelude(const KernelEraInfo& era, std::string_view file_name) {
    // The two go together: c2c6b27b5aa1 (6.13) brought the metadata records for both.
    KLP_CHECK((era.exception_frame == ExceptionFrame::MetaPtRegs) ==
                  (era.task_bottom == TaskBottom::FinalMeta),
              "era {} mixes metadata and plain frame records", era.name);
    return fmt::format("// klpemu: kernel {}'s pt_regs and frame records (emu/kernel_era.h)\n"
                       "        .equ PT_REGS_SIZE, {}\n"
                       "        .equ S_STACKFRAME, {}\n"
                       "        .equ FRAME_RECORD_META, {}\n"
                       "# 1 \"{}\"\n",
                       era.name, era.pt_regs_size, era.pt_regs_stackframe,
                       era.exception_frame == ExceptionFrame::MetaPtRegs ? 1 : 0, file_name);
}

std::string era_trampoline_mismatch(const KernelEraInfo& era, std::string_view trampoline) {
    if (era.allows_trampoline(trampoline)) {
        return {};
    }
    std::string where;
    for (const KernelEraInfo& e : kEras) {
        if (e.allows_trampoline(trampoline)) {
            where += fmt::format("{}{}", where.empty() ? "" : ", ", e.name);
        }
    }
    return fmt::format("kernel {} never had the '{}' ftrace trampoline (it existed in {}; "
                       "{} used '{}')",
                       era.name, trampoline, where, era.name, era.default_trampoline);
}

std::string era_unwinder_mismatch(const KernelEraInfo& era, std::string_view unwinder) {
    // fp-naive is the plain frame-record walk every era has (not its reliable unwinder); cfi is
    // a proposal evaluated against any kernel.
    if (unwinder == era.default_unwinder || unwinder == "fp-naive" || unwinder == "cfi") {
        return {};
    }
    if (unwinder == "seed-v4") {
        return fmt::format("kernel {} never had the seed-v4 unwinder (only the posted 4.19-v4 "
                           "series did)",
                           era.name);
    }
    if (unwinder == "kunwind" && era.exception_frame != ExceptionFrame::MetaPtRegs) {
        return fmt::format("kernel {} has no metadata frame records for kunwind's rules (6.13+)",
                           era.name);
    }
    return {};
}

} // namespace klpemu::emu
