// Building a kernel tree's entry-ftrace.S against the era (see ftrace_source.h): the Kconfig
// set, the generated asm-offsets.h, the preprocessor run and the check that every name the file
// uses is defined by it, by the compatibility headers or by klpemu's support code.
#include "patcher/ftrace_source.h"

#include "emu/assembler.h"
#include "emu/c_compiler.h"
#include "emu/check.h"
#include "emu/elf_object.h"
#include "patcher/ftrace_source_hunk.h"
#include "patcher/ftrace_source_kconfig.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>

namespace klpemu::patcher {

std::string_view embedded_ftrace_compat_header(std::string_view file_name);

namespace {

// The compatibility headers (patcher/ftrace_source/include), by include path. They are embedded
// by base name, which is unique among them.
constexpr std::array<std::string_view, 6> kCompatHeaders{"linux/linkage.h", "linux/cfi_types.h",
                                                         "linux/export.h",  "asm/assembler.h",
                                                         "asm/insn.h",      "asm/ftrace.h"};

// What patcher/guest/ftrace_source_support.S defines for the file to call or read.
constexpr std::array<std::string_view, 6> kSupplied{
    "function_trace_op",        "ftrace_ops_list_func",  "ftrace_stub",
    "ftrace_return_to_handler", "prepare_ftrace_return", "ftrace_stub_graph"};

// klpemu's guest struct ftrace_ops: { func, host id, direct_call, pad } (ftrace_source_support.S).
constexpr uint32_t kOpsFunc = 0;
constexpr uint32_t kOpsDirectCall = 16;

std::optional<uint32_t> era_offset(const emu::KernelEraInfo& era, std::string_view name) {
    for (const emu::AsmOffset& o : era.asm_offsets) {
        if (o.name == name) {
            return o.value;
        }
    }
    return std::nullopt;
}

std::string_view base_name(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// FILE:LINE of the first use of `name` in preprocessed text, following the line markers.
std::string locate(std::string_view text, std::string_view name, std::string_view fallback) {
    std::string file(fallback);
    long line = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view l = text.substr(pos, end - pos);
        pos = end + 1;
        if (l.starts_with("# ")) {
            // `# N "file" flags`: the next line is line N of file.
            const size_t q1 = l.find('"');
            const size_t q2 = q1 == std::string_view::npos ? q1 : l.find('"', q1 + 1);
            if (q2 != std::string_view::npos) {
                line = std::strtol(std::string(l.substr(2, q1 - 2)).c_str(), nullptr, 10) - 1;
                file = std::string(l.substr(q1 + 1, q2 - q1 - 1));
                continue;
            }
        }
        ++line;
        const std::string_view code = l.substr(0, l.find("//"));
        for (size_t at = code.find(name); at != std::string_view::npos;
             at = code.find(name, at + 1)) {
            auto ident = [](char c) { return std::isalnum(uint8_t(c)) != 0 || c == '_'; };
            const bool left = at == 0 || !ident(code[at - 1]);
            const bool right = at + name.size() >= code.size() || !ident(code[at + name.size()]);
            if (left && right) {
                return fmt::format("{}:{}", file, line);
            }
        }
    }
    return std::string(fallback);
}

// The assembler's error for a line that still holds an all-capitals name the preprocessor did
// not replace (a macro or asm-offset nobody defines, e.g. `[sp, #FREGS_ORIG_X0]`) names the
// position but not the culprit: put the name first.
Error name_unknown_macro(const Error& error) {
    const std::string& m = error.message;
    const size_t colon = m.find(": error: ");
    const size_t nl = m.find('\n');
    if (colon == std::string::npos || nl == std::string::npos) {
        return error;
    }
    const std::string where = m.substr(0, colon);
    const std::string line = m.substr(nl + 1, m.find('\n', nl + 1) - nl - 1);
    auto is_register = [](const std::string& w) {
        if (w == "SP" || w == "LR" || w == "FP" || w == "XZR" || w == "WZR") {
            return true;
        }
        return (w[0] == 'X' || w[0] == 'W') && w.size() > 1 &&
               std::all_of(w.begin() + 1, w.end(), [](char c) { return std::isdigit(uint8_t(c)); });
    };
    for (size_t i = 0; i < line.size();) {
        if (!(std::isupper(uint8_t(line[i])) || line[i] == '_') ||
            (i > 0 && (std::isalnum(uint8_t(line[i - 1])) || line[i - 1] == '_'))) {
            ++i;
            continue;
        }
        size_t j = i;
        bool caps = true;
        while (j < line.size() && (std::isalnum(uint8_t(line[j])) || line[j] == '_')) {
            caps = caps && !std::islower(uint8_t(line[j]));
            ++j;
        }
        const std::string word = line.substr(i, j - i);
        if (caps && word.size() > 1 && !is_register(word)) {
            const size_t col = where.rfind(':');
            return make_error("{}: error: unknown macro or symbol '{}' (not in klpemu's "
                              "kernel-compatibility headers or asm-offsets)\n{}",
                              col == std::string::npos ? where : where.substr(0, col), word, m);
        }
        i = j;
    }
    return error;
}

} // namespace

bool ftrace_source_supplied(std::string_view symbol) {
    return std::find(kSupplied.begin(), kSupplied.end(), symbol) != kSupplied.end();
}

std::string ftrace_asm_offsets(const emu::KernelEraInfo& era, const TrampolineLayout& layout) {
    std::string out = fmt::format("/* Generated by klpemu for kernel {}, trampoline {}. */\n"
                                  "#ifndef KLPEMU_ASM_OFFSETS_H\n#define KLPEMU_ASM_OFFSETS_H\n",
                                  era.name, layout.name);
    auto def = [&](std::string_view name, uint32_t value) {
        out += fmt::format("#define {} {}\n", name, value);
    };
    // struct pt_regs: regs[0..30] first; the era's table has the rest.
    for (int n = 0; n <= 28; ++n) {
        def(fmt::format("S_X{}", n), uint32_t(8 * n));
    }
    for (const emu::AsmOffset& o : era.asm_offsets) {
        def(o.name, o.value);
        if (o.name == "PT_REGS_SIZE") {
            def("S_FRAME_SIZE", o.value); // Its name until v5.11.
        }
        if (o.name == "FREGS_X0") {
            for (int n = 1; n <= 7; ++n) { // FREGS_X8 is in the table.
                def(fmt::format("FREGS_X{}", n), uint32_t(8 * n));
            }
        }
        if (o.name == "FGRET_REGS_X0") {
            for (int n = 1; n <= 7; ++n) {
                def(fmt::format("FGRET_REGS_X{}", n), uint32_t(8 * n));
            }
        }
    }
    def("FTRACE_OPS_FUNC", kOpsFunc);
    if (era.has(emu::EraFeature::DirectCalls)) {
        def("FTRACE_OPS_DIRECT_CALL", kOpsDirectCall);
    }
    out += "#endif\n";
    // The engine reads the register block through `layout`; the file writes it through these.
    const bool fregs = !saves_pt_regs(layout.variant);
    const auto check = [&](std::string_view name, uint32_t engine) {
        const auto v = era_offset(era, name);
        KLP_CHECK(v && *v == engine, "kernel {}: {} is {} in the era table, {} in layout {}",
                  era.name, name, v ? int64_t(*v) : -1, engine, layout.name);
    };
    if (fregs && era_offset(era, "FREGS_FP")) {
        check("FREGS_FP", layout.fp);
        check("FREGS_LR", layout.lr);
        check("FREGS_SP", layout.sp);
        check("FREGS_PC", layout.pc);
    } else if (!fregs && layout.variant == TrampolineVariant::Regs) {
        check("S_FP", layout.fp);
        check("S_LR", layout.lr);
        check("S_SP", layout.sp);
        check("S_PC", layout.pc);
    }
    return out;
}

Result<FtraceSourceBuild> build_ftrace_source(const FtraceSourceSpec& spec,
                                              const emu::KernelEraInfo& era,
                                              const TrampolineLayout& layout) {
    FtraceSourceBuild build;
    build.name = spec.path.filename().string();
    auto kconfig = ftrace_source_kconfig(era, layout, spec.kconfig);
    if (!kconfig) {
        return make_error("{}: {}", spec.path.string(), kconfig.error().message);
    }
    build.kconfig = std::move(*kconfig);
    build.asm_offsets = ftrace_asm_offsets(era, layout);

    std::vector<GeneratedHeader> headers;
    for (std::string_view path : kCompatHeaders) {
        const std::string_view text = embedded_ftrace_compat_header(base_name(path));
        KLP_CHECK(!text.empty(), "compatibility header {} is not embedded", path);
        headers.push_back(GeneratedHeader{std::string(path), std::string(text)});
    }
    headers.push_back(GeneratedHeader{"asm/asm-offsets.h", build.asm_offsets});
    std::vector<std::string> flags;
    for (const std::string& k : build.kconfig) {
        flags.push_back(fmt::format("-DCONFIG_{}=1", k));
    }
    std::optional<std::string> edited;
    if (!spec.edit.empty()) {
        std::ifstream in(spec.path, std::ios::binary);
        const std::string original{std::istreambuf_iterator<char>(in), {}};
        if (!in && !in.eof()) {
            return make_error("{}: error: cannot read the file", spec.path.string());
        }
        auto applied = apply_source_hunk(original, spec.edit);
        if (!applied) {
            return make_error("{}: error: {}", spec.path.string(), applied.error().message);
        }
        edited = std::move(*applied);
    }
    KLP_TRY_ASSIGN(text, preprocess_assembly(spec.path, headers, flags, edited, spec.cache_dir));
    build.preprocessed = std::move(text);

    // Assemble once here to find names nobody defines: an unknown macro used as an operand, or an
    // asm-offset this era does not have, reaches the assembler as a plain symbol.
    auto object = assemble(build.preprocessed, build.name);
    if (!object) {
        return name_unknown_macro(object.error());
    }
    KLP_TRY_ASSIGN(elf, ElfObject::parse(*object));
    for (const ElfSymbol& sym : elf.symbols) {
        if (sym.index == 0 || !sym.is_undefined() || sym.name.empty() ||
            ftrace_source_supplied(sym.name)) {
            continue;
        }
        return make_error("{}: error: unknown macro or symbol '{}' (not in klpemu's "
                          "kernel-compatibility headers or asm-offsets for kernel {}, nor "
                          "supplied by the ftrace engine)",
                          locate(build.preprocessed, sym.name, spec.path.string()), sym.name,
                          era.name);
    }
    return build;
}

} // namespace klpemu::patcher
