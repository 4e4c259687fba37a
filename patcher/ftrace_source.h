// A kernel tree's own arch/arm64/kernel/entry-ftrace.S as the machine's trampoline. Kernel
// developers change that file; klpemu builds it as kbuild would (the C preprocessor with
// -D__ASSEMBLY__, the era's Kconfig as -DCONFIG_*=1, then the assembler) against a
// kernel-compatibility include directory of klpemu's own (patcher/ftrace_source/include:
// linux/linkage.h, linux/cfi_types.h, asm/assembler.h, asm/insn.h, asm/ftrace.h, ...) and an
// asm/asm-offsets.h generated from the engine's layout for the era, so the guest code and the
// engine agree on every offset by construction. Ftrace then installs the result in place of its
// bundled variant (FtraceOptions::source) and every check runs on the user's code.
#pragma once

#include "emu/image.h"
#include "emu/kernel_era.h"
#include "emu/result.h"
#include "patcher/ftrace_layout.h"
#include "patcher/ftrace_source_kconfig.h"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::patcher {

// `[machine] ftrace_source` / `klpemu run --ftrace-source` plus `[machine] kconfig`.
struct FtraceSourceSpec {
    std::filesystem::path path;
    // Overrides of the era's Kconfig, each "CONFIG_X=y" or "CONFIG_X=n".
    std::vector<std::string> kconfig;
    // A one-hunk edit applied to the file as read (apply_source_hunk; empty: none), for a broken
    // variant of a good file: `[machine] ftrace_source_edit`.
    std::vector<std::string> edit;
    // Where the preprocessed file is cached (emu/compile_cache.h); nullopt: always preprocess.
    std::optional<std::filesystem::path> cache_dir;
};

// What one build of the file produced and what it was built against.
struct FtraceSourceBuild {
    std::string name;                 // The file's name, as messages show it.
    std::string preprocessed;         // The assembler's input (line markers kept).
    std::string asm_offsets;          // The generated asm/asm-offsets.h.
    std::vector<std::string> kconfig; // CONFIG_* symbols defined (without CONFIG_), sorted.
    LoadedObject object;              // The file as loaded, once Ftrace installed it.
};

// asm/asm-offsets.h for `layout` on `era`: pt_regs (S_X0..S_X28, S_FP, S_LR, S_SP, S_PC,
// S_STACKFRAME, PT_REGS_SIZE and its pre-5.11 name S_FRAME_SIZE), ftrace_regs on WITH_ARGS eras
// (FREGS_X0..FREGS_X8, FREGS_FP/LR/SP/PC/SIZE, FREGS_DIRECT_TRAMP from 6.4) and klpemu's guest
// struct ftrace_ops (FTRACE_OPS_FUNC, FTRACE_OPS_DIRECT_CALL). Contract: the layout's register
// block offsets equal the era's (asserted).
std::string ftrace_asm_offsets(const emu::KernelEraInfo& era, const TrampolineLayout& layout);

// Preprocesses the file (after `spec.edit`, if any) and checks it assembles and names nothing
// klpemu does not supply: a macro or asm-offset the compatibility headers lack fails as `FILE:LINE:
// error: unknown macro or symbol 'NAME'` at its first use.
Result<FtraceSourceBuild> build_ftrace_source(const FtraceSourceSpec& spec,
                                              const emu::KernelEraInfo& era,
                                              const TrampolineLayout& layout);

// The symbols an entry-ftrace.S may reference without defining: klpemu supplies them
// (patcher/guest/ftrace_source_support.S).
bool ftrace_source_supplied(std::string_view symbol);

} // namespace klpemu::patcher
