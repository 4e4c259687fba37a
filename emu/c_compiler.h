// Real compilers as guest toolchains: C sources in scenarios are compiled by clang-19 or
// aarch64-linux-gnu-gcc with the flags a kernel build uses for ftrace
// (-fpatchable-function-entry, frame pointers, no FP/SIMD registers), so the loader sees the
// same call-site layouts a real arm64 kernel gets from each compiler. The compiler runs as a
// child process (posix_spawn, no shell); its diagnostics come back verbatim in the Error.
#pragma once

#include "emu/object_bytes.h"
#include "emu/result.h"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu {

enum class Compiler { Clang, Gcc };

struct CompileOptions {
    Compiler compiler = Compiler::Clang;
    // Replaces default_compile_flags(compiler) when set.
    std::optional<std::vector<std::string>> flags;
    // Appended after the (default or replaced) flags, e.g. "-fpatchable-function-entry=4,2".
    std::vector<std::string> extra_flags;
    // Where compiled objects are cached (emu/compile_cache.h); nullopt: always compile.
    std::optional<std::filesystem::path> cache_dir;
};

// The default flags for `compiler`: the code-generation part of arm64 kbuild's KBUILD_CFLAGS
// (-fno-PIE, frame pointers without sibling calls, -mgeneral-regs-only, -ffreestanding,
// -fno-common, no unwind tables, -fpatchable-function-entry=2, -O2 -c; docs/toolchain.md lists
// them all), plus --target for clang and -mabi=lp64 for gcc.
std::vector<std::string> default_compile_flags(Compiler compiler);

// -DMODULE -DKBUILD_MODNAME="name" -DKBUILD_BASENAME="name": what kbuild adds for an object that
// is part of module `module_name`.
std::vector<std::string> module_compile_flags(std::string_view module_name);

// Compiles `file` (C, or anything the compiler driver accepts) to an object named after the
// file; a failing compiler returns its stderr verbatim.
Result<ObjectBytes> compile_c(const std::filesystem::path& file, const CompileOptions& options = {});

// Loads guest code by extension: .c => compile_c; .S => preprocess_assembly (cached as
// compile_c is) then assemble(); .s => assemble(); .o => the file's bytes; else an error.
Result<ObjectBytes> load_source_file(const std::filesystem::path& file,
                                     const CompileOptions& options = {});

// A header made up by klpemu for one preprocessor run (a kernel-compatibility header, a
// generated asm-offsets.h): `path` relative to the include directory, e.g. "asm/insn.h".
struct GeneratedHeader {
    std::string path;
    std::string text;
};

// Preprocesses an assembly file as kbuild does for a .S (clang-19 -E -x assembler-with-cpp
// -nostdinc -D__ASSEMBLY__), keeping line markers so assembler errors name FILE:LINE. `headers`
// are written to a private include directory searched before any -I in `flags` (-D/-U/-I only).
// Returns the preprocessed text; a failing preprocessor returns its diagnostics verbatim.
// `text`, when given, is used as the file's contents instead of reading `file`; line markers
// and diagnostics then name `file` with the lines of `text`. Markers for the generated headers
// name them as "<klpemu>/include/PATH", so the result is the same from run to run and can be
// cached in `cache_dir` (emu/compile_cache.h; key: compiler, flags, generated headers, the
// input's name and bytes; the entry also checks every header found through an -I of `flags`).
Result<std::string>
preprocess_assembly(const std::filesystem::path& file, const std::vector<GeneratedHeader>& headers,
                    const std::vector<std::string>& flags,
                    const std::optional<std::string>& text = std::nullopt,
                    const std::optional<std::filesystem::path>& cache_dir = std::nullopt);

} // namespace klpemu
