// `klpemu objdump FILE…`: shows the image exactly as the loader builds it, the way `objdump -d`
// shows a vmlinux or a .ko: placed sections, symbols, ftrace patch sites (the NOPs
// ftrace_init_nop and ftrace_make_call will rewrite) and disassembly with symbolized branch
// targets. The first file is the kernel; later files are modules, placed and linked by the
// module loader (tools/objdump_modules.h: near, far or at an address, with PLTs), resolving
// undefined symbols against earlier files' exports.
#include "tools/objdump_command.h"

#include "tools/objdump_modules.h"

#include "emu/c_compiler.h"
#include "emu/disassembler.h"
#include "emu/kernel_era.h"
#include "emu/loader.h"
#include "emu/machine.h"
#include "emu/symbol_table.h"
#include "patcher/ftrace.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace klpemu::tools {

namespace {

struct ObjdumpOptions {
    std::vector<std::string> files;
    std::string base; // Empty: kKernelBase alone, the machine's first free address with modules.
    std::string module_placement = "near";
    std::string compiler = "clang";
    std::vector<std::string> cflags;
    std::string kernel = "6.17"; // emu/kernel_era.h
    bool json = false;
    std::string ftrace_source;        // --ftrace-source: show this entry-ftrace.S as built
    std::string ftrace;               // --ftrace VARIANT (default: the era's)
    std::vector<std::string> kconfig; // --kconfig CONFIG_X=y|n
};

// The era line every objdump starts with: what kernel the image is read as.
std::string era_line(const emu::KernelEraInfo& era) {
    return fmt::format("kernel: {} (ftrace {}, unwinder {}): {}", era.name, era.default_trampoline,
                       era.default_unwinder, era.models);
}

const char* kind_name(SymbolKind k) {
    switch (k) {
    case SymbolKind::Function: return "func";
    case SymbolKind::Object: return "object";
    case SymbolKind::Section: return "section";
    case SymbolKind::NoType: return "notype";
    }
    return "?";
}

std::string hex(GuestAddr a) { return fmt::format("{:#x}", a.value); }

std::string perms(const PlacedSection& s) {
    return fmt::format("r{}{}", s.writable ? 'w' : '-', s.executable ? 'x' : '-');
}

// One disassembled line: the decoded text, with an absolute branch target replaced by its
// symbolized form ("bl 0xffff800008000010" → "bl 0xffff800008000010 <callee>").
std::string render_insn(const Disassembler& dis, const SymbolTable& symbols, InsnWord w,
                        GuestAddr pc) {
    const DecodedInsn d = dis.decode(w, pc);
    if (!d.valid || !d.branch_target) {
        return d.text;
    }
    return fmt::format("{} <{}>", d.text, symbols.symbolize(*d.branch_target).str());
}

// Function symbols of a section keyed by address, for "func:" headers in the listing.
std::map<GuestAddr, std::string> labels_in(const LoadedObject& obj, const PlacedSection& s) {
    std::map<GuestAddr, std::string> labels;
    for (const Symbol& sym : obj.symbols) {
        if (sym.kind != SymbolKind::Section && s.range.contains(sym.addr)) {
            labels.emplace(sym.addr, sym.name);
        }
    }
    return labels;
}

void print_text(const std::vector<LoadedObject>& objects, const SymbolTable& symbols,
                const Disassembler& dis) {
    for (const LoadedObject& obj : objects) {
        fmt::print("{}: {} object at {}..{}\n\n", obj.name,
                   obj.kind == ObjectKind::Kernel     ? "kernel"
                   : obj.kind == ObjectKind::Module   ? "module"
                                                      : "livepatch",
                   obj.extent.begin, obj.extent.end);
        fmt::print("Sections:\n");
        for (const PlacedSection& s : obj.sections) {
            fmt::print("  {:<28} {}..{}  {}  size {:#x}  align {}\n", s.name, s.range.begin,
                       s.range.end, perms(s), s.range.size(), s.alignment);
        }
        fmt::print("\nSymbols:\n");
        for (const Symbol& sym : obj.symbols) {
            fmt::print("  {}  {:<7} {:<6} size {:#6x}  {}\n", sym.addr, kind_name(sym.kind),
                       sym.global ? "global" : "local", sym.size, sym.name);
        }
        fmt::print("\nPatch sites:\n");
        if (obj.patch_sites.empty()) {
            fmt::print("  (none)\n");
        }
        for (const PatchSite& p : obj.patch_sites) {
            fmt::print("  {:<24} nop {}  nop {}{}{}\n", p.function, p.first_nop, p.rec_ip,
                       p.ops_literal ? fmt::format("  ops literal {}", *p.ops_literal) : "",
                       p.bti ? "  (bti c)" : "");
        }
        for (const PlacedSection& s : obj.sections) {
            if (!s.executable || s.bytes.empty()) {
                continue;
            }
            fmt::print("\nDisassembly of section {}:\n", s.name);
            const auto labels = labels_in(obj, s);
            for (uint64_t off = 0; off + 4 <= s.bytes.size(); off += 4) {
                const GuestAddr pc = s.range.begin + int64_t(off);
                if (auto it = labels.find(pc); it != labels.end()) {
                    fmt::print("\n{} <{}>:\n", pc, it->second);
                }
                uint32_t raw = 0;
                std::memcpy(&raw, s.bytes.data() + off, 4);
                fmt::print("  {:x}:  {:08x}  {}\n", pc.value, raw,
                           render_insn(dis, symbols, InsnWord(raw), pc));
            }
        }
        fmt::print("\n");
    }
}

nlohmann::json to_json(const std::vector<LoadedObject>& objects, nlohmann::json modules) {
    nlohmann::json sections = nlohmann::json::array();
    nlohmann::json syms = nlohmann::json::array();
    nlohmann::json sites = nlohmann::json::array();
    for (const LoadedObject& obj : objects) {
        for (const PlacedSection& s : obj.sections) {
            sections.push_back({{"object", obj.name},
                                {"name", s.name},
                                {"address", hex(s.range.begin)},
                                {"size", s.range.size()},
                                {"flags", perms(s)}});
        }
        for (const Symbol& sym : obj.symbols) {
            syms.push_back({{"object", obj.name},
                            {"name", sym.name},
                            {"address", hex(sym.addr)},
                            {"size", sym.size},
                            {"kind", kind_name(sym.kind)},
                            {"global", sym.global}});
        }
        for (const PatchSite& p : obj.patch_sites) {
            nlohmann::json site = {{"function", p.function},
                                   {"address", hex(p.first_nop)},
                                   {"nops", {hex(p.first_nop), hex(p.rec_ip)}},
                                   {"rec_ip", hex(p.rec_ip)},
                                   {"bti", p.bti}};
            if (p.ops_literal) {
                site["ops_literal"] = hex(*p.ops_literal);
            }
            sites.push_back(std::move(site));
        }
    }
    return {{"sections", sections},
            {"symbols", syms},
            {"patch_sites", sites},
            {"modules", std::move(modules)}};
}

// --ftrace-source: the file built and installed exactly as `[machine] ftrace_source` does it on
// a fresh machine of the era, printed with what it was built against (Kconfig, asm-offsets.h).
int run_objdump_ftrace_source(const ObjdumpOptions& o, const emu::KernelEraInfo& era) {
    auto variant = patcher::parse_trampoline_variant(
        o.ftrace.empty() ? std::string(era.default_trampoline) : o.ftrace);
    if (!variant) {
        fmt::print(stderr, "klpemu objdump: error: --ftrace: {}\n", variant.error().message);
        return 2;
    }
    emu::MachineConfig config;
    config.era = era.era;
    auto machine = emu::Machine::create(config);
    if (!machine) {
        fmt::print(stderr, "klpemu objdump: error: {}\n", machine.error().message);
        return 2;
    }
    patcher::FtraceOptions options;
    options.variant = *variant;
    options.era = era.era;
    options.source = patcher::FtraceSourceSpec{o.ftrace_source, o.kconfig, {}, {}};
    auto ftrace = patcher::Ftrace::create(**machine, options);
    if (!ftrace) {
        fmt::print(stderr, "{}\n", ftrace.error().message);
        return 2;
    }
    const patcher::FtraceSourceBuild& build = *(*ftrace)->source_build();
    const patcher::TrampolineLayout& layout = (*ftrace)->layout();
    if (o.json) {
        auto doc = to_json({build.object}, nlohmann::json::array());
        doc["kernel"] = era.name;
        doc["ftrace_source"] = {{"file", o.ftrace_source},
                                {"trampoline", layout.name},
                                {"entry", layout.entry},
                                {"kconfig", build.kconfig},
                                {"asm_offsets", build.asm_offsets}};
        fmt::print("{}\n", doc.dump(2));
        return 0;
    }
    fmt::print("{}\n", era_line(era));
    fmt::print("ftrace_source: {} as the '{}' trampoline (entry {}; the engine reads the register "
               "block at fp {}, lr {}, sp {}, pc {})\n",
               o.ftrace_source, layout.name, layout.entry, layout.fp, layout.lr, layout.sp,
               layout.pc);
    fmt::print("Kconfig: {}\n\n", fmt::join(build.kconfig, " "));
    fmt::print("asm/asm-offsets.h:\n{}\n", build.asm_offsets);
    print_text({build.object}, (*machine)->symbols(), Disassembler());
    return 0;
}

int run_objdump(const ObjdumpOptions& o) {
    std::optional<GuestAddr> base;
    if (!o.base.empty()) {
        char* end = nullptr;
        const uint64_t value = std::strtoull(o.base.c_str(), &end, 0);
        if (*end != '\0') {
            fmt::print(stderr, "klpemu objdump: error: --base '{}' is not a number\n", o.base);
            return 2;
        }
        base = GuestAddr(value);
    }
    auto era = emu::parse_kernel_era(o.kernel);
    if (!era) {
        fmt::print(stderr, "klpemu objdump: error: --kernel: {}\n", era.error().message);
        return 2;
    }
    const emu::KernelEraInfo& era_row = emu::era_info(*era);
    if (!o.ftrace_source.empty()) {
        if (!o.files.empty()) {
            fmt::print(stderr, "klpemu objdump: error: --ftrace-source takes no other files\n");
            return 2;
        }
        return run_objdump_ftrace_source(o, era_row);
    }
    if (o.files.empty()) {
        fmt::print(stderr, "klpemu objdump: error: no files (or --ftrace-source PATH)\n");
        return 2;
    }
    auto placement = parse_module_placement(o.module_placement);
    if (!placement) {
        fmt::print(stderr, "{}\n", placement.error().message);
        return 2;
    }
    CompileOptions copts;
    copts.compiler = o.compiler == "gcc" ? Compiler::Gcc : Compiler::Clang;
    copts.extra_flags = o.cflags;

    std::vector<ObjectBytes> inputs;
    for (const std::string& file : o.files) {
        Result<ObjectBytes> bytes = load_source_file(file, copts);
        if (!bytes) {
            fmt::print(stderr, "{}\n", bytes.error().message);
            return 2;
        }
        inputs.push_back(std::move(bytes).value());
    }
    if (inputs.size() > 1) {
        auto image = load_module_image(inputs.front(),
                                       std::vector<ObjectBytes>(inputs.begin() + 1, inputs.end()),
                                       base, *placement, era_row.era);
        if (!image) {
            fmt::print(stderr, "{}\n", image.error().message);
            return 2;
        }
        for (const LoadedObject& object : image->objects) {
            for (const LoadWarning& w : object.warnings) {
                fmt::print(stderr, "{}\n", format_load_warning(object.name, w));
            }
        }
        if (o.json) {
            auto doc = to_json(image->objects, module_image_json(*image));
            doc["kernel"] = era_row.name;
            fmt::print("{}\n", doc.dump(2));
            return 0;
        }
        fmt::print("{}\n\n", era_line(era_row));
        print_text(image->objects, image->machine->symbols(), Disassembler());
        print_module_image(*image);
        return 0;
    }

    SymbolTable symbols;
    LoadOptions lopts;
    lopts.kind = ObjectKind::Kernel;
    Result<LoadedObject> loaded =
        Loader().load(inputs.front(), base.value_or(emu::kKernelBase), lopts, symbols);
    if (!loaded) {
        fmt::print(stderr, "{}\n", loaded.error().message);
        return 2;
    }
    for (const LoadWarning& w : loaded->warnings) {
        fmt::print(stderr, "{}\n", format_load_warning(loaded->name, w));
    }
    symbols.add_object(*loaded);
    std::vector<LoadedObject> objects;
    objects.push_back(std::move(loaded).value());
    if (o.json) {
        auto doc = to_json(objects, nlohmann::json::array());
        doc["kernel"] = era_row.name;
        fmt::print("{}\n", doc.dump(2));
        return 0;
    }
    fmt::print("{}\n\n", era_line(era_row));
    print_text(objects, symbols, Disassembler());
    return 0;
}

} // namespace

void register_objdump_command(CLI::App& app, int& exit_status) {
    auto opts = std::make_shared<ObjdumpOptions>();
    CLI::App* cmd = app.add_subcommand(
        "objdump", "Load .S/.s/.c/.o files like the loader would and print the image");
    cmd->add_option("files", opts->files,
                    "Files to load, in order: the kernel, then modules (which may use earlier "
                    "files' exports)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--base", opts->base,
                    "Load address of the first file (default 0xffff800008000000; with modules, "
                    "the first free kernel address after the machine's own objects)");
    cmd->add_option("--module-placement", opts->module_placement,
                    "Where files after the first go as modules: near, far or 0xADDR")
        ->capture_default_str();
    cmd->add_option("--compiler", opts->compiler, "Compiler for .c files")
        ->check(CLI::IsMember({"clang", "gcc"}))
        ->capture_default_str();
    cmd->add_option("--cflags", opts->cflags, "Extra compiler flags for .c files")
        ->allow_extra_args(false);
    cmd->add_option("--kernel", opts->kernel,
                    "Kernel era the image is read as (docs/eras.md): 4.19-v3, 4.19-v4, 5.5, 5.10, "
                    "6.1, 6.3, 6.4, 6.5, 6.17")
        ->capture_default_str();
    cmd->add_option("--ftrace-source", opts->ftrace_source,
                    "Show this entry-ftrace.S (a kernel tree's, unchanged) as klpemu builds and "
                    "installs it for --kernel: the Kconfig, the generated asm/asm-offsets.h and "
                    "the disassembly (docs/own-code.md)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--ftrace", opts->ftrace,
                    "With --ftrace-source: the trampoline variant (default: the era's)");
    cmd->add_option("--kconfig", opts->kconfig,
                    "With --ftrace-source: Kconfig overrides, CONFIG_X=y or CONFIG_X=n")
        ->allow_extra_args(false);
    cmd->add_flag("--json", opts->json, "Print sections, symbols, patch_sites and modules as JSON");
    cmd->callback([opts, &exit_status] { exit_status = run_objdump(*opts); });
}

} // namespace klpemu::tools
