// Tables of known names (see known_names.h). Adding a variant or feature is one line here plus
// its entry in docs/scenario-format.md.
#include "scenarios/known_names.h"

#include <algorithm>
#include <array>

namespace klpemu::scenario {

namespace {

constexpr std::array k_cores{
    KnownName{"cortex-a53", "in-order little core (default)"},
    KnownName{"cortex-a72", "out-of-order big core"},
    KnownName{"neoverse-n1", "server core"},
};

constexpr std::array k_ftrace{
    KnownName{"regs-v3", "the seed's v3 ftrace_regs_caller, with its store below SP"},
    KnownName{"regs-v4", "the seed's two-frame v4"},
    KnownName{"regs", "DYNAMIC_FTRACE_WITH_REGS, v5.5-v6.1"},
    KnownName{"args", "DYNAMIC_FTRACE_WITH_ARGS, v6.2+ (default)"},
    KnownName{"call-ops", "DYNAMIC_FTRACE_WITH_CALL_OPS, v6.3+"},
};

constexpr std::array k_unwinders{
    KnownName{"fp-naive", "walk x29 until it is zero"},
    KnownName{"seed-v4", "the seed's kthread-bottom check"},
    KnownName{"kunwind", "v6.13+ metadata records and strict rules (default)"},
    KnownName{"cfi", "SFrame-like, driven by the emitted CFI"},
};

constexpr std::array k_features{
    Feature{"machine", true, "CPUs, tasks, scheduler, IRQs, host calls"},
    Feature{"c-sources", true, "C objects compiled with clang-19 or gcc"},
    Feature{"modules", true, "module objects placed near or far"},
    Feature{"cycles", true, "cycle counts from a core's scheduling model"},
    Feature{"module-plts", true, "PLT entries for out-of-range module calls"},
    Feature{"ftrace", true, "ftrace call sites, ops and trampolines"},
    Feature{"graph-tracer", true, "function-graph return hijacking"},
    Feature{"livepatch", true, "livepatch redirection and transitions"},
    Feature{"unwinder", true, "reliable-stacktrace checking"},
    Feature{"kprobes-on-ftrace", false, "kprobes placed through an ftrace ops",
            "arm64 has no KPROBES_ON_FTRACE (test-kprobe requires CONFIG_KPROBES_ON_FTRACE)"},
};

} // namespace

std::span<const KnownName> known_cores() { return k_cores; }
std::span<const KnownName> known_ftrace_variants() { return k_ftrace; }
std::span<const KnownName> known_unwinders() { return k_unwinders; }
std::span<const Feature> known_features() { return k_features; }

bool is_known(std::span<const KnownName> names, std::string_view name) {
    return std::any_of(names.begin(), names.end(),
                       [&](const KnownName& k) { return k.name == name; });
}

std::string join_names(std::span<const KnownName> names) {
    std::string out;
    for (const auto& k : names) {
        out += out.empty() ? "" : ", ";
        out += k.name;
    }
    return out;
}

std::string join_feature_names() {
    std::string out;
    for (const auto& f : k_features) {
        out += out.empty() ? "" : ", ";
        out += f.name;
    }
    return out;
}

} // namespace klpemu::scenario
