// The Kconfig a kernel tree's entry-ftrace.S is preprocessed with: the era's CONFIG_* set for the
// trampoline variant, plus the user's `[machine] kconfig` overrides, checked against the variant
// (WITH_ARGS against pt_regs, CALL_OPS against the call sites). Apart from ftrace_source.h so the
// scenario parser can check a scenario's kconfig without depending on the assembler.
#pragma once

#include "emu/kernel_era.h"
#include "emu/result.h"
#include "patcher/ftrace_layout.h"

#include <string>
#include <vector>

namespace klpemu::patcher {

// The Kconfig symbols (without CONFIG_) the file is built with: era_kconfig for the layout's
// variant, then `overrides` applied in order. Errors: an override not spelled CONFIG_X=y|n; a
// CALL_OPS setting that disagrees with the trampoline variant (the call sites differ).
Result<std::vector<std::string>> ftrace_source_kconfig(const emu::KernelEraInfo& era,
                                                       const TrampolineLayout& layout,
                                                       const std::vector<std::string>& overrides);

} // namespace klpemu::patcher
