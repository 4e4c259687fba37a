// Helpers for the ftrace integration tests: a machine with ftrace installed and C compiled by a
// real compiler loaded as kernel text, its call sites handed to ftrace.
#pragma once

#include "emu/c_compiler.h"
#include "emu/loader.h"
#include "emu/machine.h"
#include "emu/store_below_sp_check.h"
#include "patcher/ftrace.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::test {

inline const char* compiler_name(Compiler c) {
    return c == Compiler::Clang ? "clang" : "gcc";
}

// Compiles scenarios/ftrace/`file` (the bundled library's C, shared with the ftrace scenarios)
// and loads it as kernel text.
inline LoadedObject load_c(emu::Machine& m, std::string_view file, Compiler compiler,
                           bool call_ops) {
    CompileOptions opts;
    opts.compiler = compiler;
    // chain.c keeps its tail call (kbuild's frame-pointer builds pass -fno-optimize-sibling-calls,
    // but assembly and other builds still tail-call): a shape every trampoline must survive.
    opts.extra_flags = {"-foptimize-sibling-calls"};
    if (call_ops) {
        opts.extra_flags.insert(opts.extra_flags.end(),
                                {"-fpatchable-function-entry=4,2", "-falign-functions=8"});
    }
    auto obj = compile_c(std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/ftrace/" + std::string(file), opts);
    REQUIRE_MESSAGE(obj.ok(), (obj.ok() ? "" : obj.error().message));
    auto size = Loader::layout_size(*obj);
    REQUIRE(size.ok());
    auto base = m.reserve_kernel_region(*size);
    REQUIRE(base.ok());
    LoadOptions lo;
    lo.kind = ObjectKind::Kernel;
    auto loaded = Loader{}.load(*obj, *base, lo, m.symbols());
    REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
    auto mapped = m.load(*loaded);
    REQUIRE_MESSAGE(mapped.ok(), (mapped.ok() ? "" : mapped.error().message));
    return std::move(*loaded);
}

struct FtraceRig {
    std::unique_ptr<emu::Machine> machine;
    // What every scenario machine has (the stack-check feature); ftrace does not attach it.
    std::unique_ptr<emu::StoreBelowSpCheck> stack_check;
    std::unique_ptr<patcher::Ftrace> ftrace;
    LoadedObject object;
};

inline FtraceRig make_ftrace_rig(patcher::TrampolineVariant variant, Compiler compiler,
                                 emu::MachineConfig config = {},
                                 emu::KernelEra era = emu::kDefaultEra) {
    config.observe_memory_writes = true;
    FtraceRig rig;
    auto m = emu::Machine::create(config);
    REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
    rig.machine = std::move(*m);
    rig.stack_check = std::make_unique<emu::StoreBelowSpCheck>(*rig.machine);
    patcher::FtraceOptions options;
    options.variant = variant;
    options.era = era;
    auto f = patcher::Ftrace::create(*rig.machine, options);
    REQUIRE_MESSAGE(f.ok(), (f.ok() ? "" : f.error().message));
    rig.ftrace = std::move(*f);
    rig.object =
        load_c(*rig.machine, "chain.c", compiler, patcher::trampoline_layout(variant).call_ops);
    auto added = rig.ftrace->add_object(rig.object);
    REQUIRE_MESSAGE(added.ok(), (added.ok() ? "" : added.error().message));
    return rig;
}

inline GuestAddr fn(const emu::Machine& m, std::string_view name) {
    auto a = m.symbol(name);
    REQUIRE_MESSAGE(a.ok(), std::string(name));
    return *a;
}

// Findings of `kind` the machine collected.
inline std::vector<Finding> findings_of(const emu::Machine& m, std::string_view kind) {
    std::vector<Finding> out;
    for (const Finding& f : m.findings()) {
        if (f.kind == kind) {
            out.push_back(f);
        }
    }
    return out;
}

inline std::string findings_text(const emu::Machine& m) {
    std::string s;
    for (const Finding& f : m.findings()) {
        s += f.kind + " " + f.where + ": " + f.message + "\n";
    }
    return s;
}

inline size_t count_ending(const std::vector<std::string>& lines, std::string_view suffix) {
    return size_t(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
        return l.size() >= suffix.size() &&
               l.compare(l.size() - suffix.size(), suffix.size(), suffix) == 0;
    }));
}

} // namespace klpemu::test
