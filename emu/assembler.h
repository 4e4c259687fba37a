// The in-process assembler: LLVM MC 19 turns AArch64 assembly text (GNU as syntax and
// directives) into an ELF64 relocatable object in memory, exactly what `as` would emit, so the
// loader relocates it the way the kernel's module loader would. Errors never abort the process:
// they come back as `FILE:LINE:COL: error: MESSAGE` followed by the source line and a caret.
#pragma once

#include "emu/object_bytes.h"
#include "emu/result.h"

#include <string>
#include <string_view>

namespace klpemu {

struct AssemblerOptions {
    std::string cpu = "generic";
    // Armv8.5-A with pointer authentication and BTI available (issue 2).
    std::string features = "+v8.5a,+pauth,+bti,+lse";
};

// Assembles `source`; `file_name` names it in diagnostics and in the returned object.
Result<ObjectBytes> assemble(std::string_view source, std::string_view file_name,
                             const AssemblerOptions& options = {});

} // namespace klpemu
