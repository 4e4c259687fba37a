// The per-variant register-block layouts; each row matches the ASCII table in its .S file.
#include "patcher/ftrace_layout.h"

#include <array>

namespace klpemu::patcher {

namespace {

// Offsets match the ASCII table in each .S file.
constexpr TrampolineLayout row(TrampolineVariant variant, std::string_view name,
                               std::string_view file, std::string_view entry, bool call_ops,
                               uint32_t fp, uint32_t lr, uint32_t sp, uint32_t pc) {
    return TrampolineLayout{variant, name, file, entry, call_ops, fp, lr, sp, pc};
}

constexpr std::array<TrampolineLayout, 5> kLayouts{
    // row(variant, name, file, entry, call_ops, fp, lr, sp, pc)
    // v3: regs[9] is the lr slot; pt_regs' {x29, x30} pair holds rec->ip + 4.
    row(TrampolineVariant::RegsV3, "regs-v3", "ftrace_regs_v3.S", "ftrace_regs_caller", //
        false, 232, 72, 248, 256),
    // v4 (pt_regs at SP, passed in x3) and v5.5..v6.1: S_FP, S_LR, S_SP, S_PC.
    row(TrampolineVariant::RegsV4, "regs-v4", "ftrace_regs_v4.S", "ftrace_regs_caller", //
        false, 232, 240, 248, 256),
    row(TrampolineVariant::Regs, "regs", "ftrace_regs.S", "ftrace_regs_caller", //
        false, 232, 240, 248, 256),
    // struct ftrace_regs: fp 80, lr 88, sp 96, pc 104.
    row(TrampolineVariant::Args, "args", "ftrace_args.S", "ftrace_caller", //
        false, 80, 88, 96, 104),
    row(TrampolineVariant::CallOps, "call-ops", "ftrace_call_ops.S", "ftrace_caller", //
        true, 80, 88, 96, 104),
};

} // namespace

const TrampolineLayout& trampoline_layout(TrampolineVariant variant) {
    for (const TrampolineLayout& layout : kLayouts) {
        if (layout.variant == variant) {
            return layout;
        }
    }
    KLP_UNREACHABLE("unknown trampoline variant {}", int(variant));
}

Result<TrampolineVariant> parse_trampoline_variant(std::string_view name) {
    for (const TrampolineLayout& layout : kLayouts) {
        if (layout.name == name) {
            return layout.variant;
        }
    }
    return make_error("unknown ftrace trampoline '{}' (expected regs-v3, regs-v4, regs, args or "
                      "call-ops)",
                      name);
}

} // namespace klpemu::patcher
