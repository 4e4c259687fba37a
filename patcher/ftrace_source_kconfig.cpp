// See ftrace_source_kconfig.h.
#include "patcher/ftrace_source_kconfig.h"

#include <set>
#include <string_view>

namespace klpemu::patcher {

Result<std::vector<std::string>> ftrace_source_kconfig(const emu::KernelEraInfo& era,
                                                       const TrampolineLayout& layout,
                                                       const std::vector<std::string>& overrides) {
    std::set<std::string> set;
    for (std::string_view s : emu::era_kconfig(era, layout.name)) {
        set.emplace(s);
    }
    for (const std::string& o : overrides) {
        const size_t eq = o.find('=');
        const std::string name = o.substr(0, eq);
        const std::string value = eq == std::string::npos ? "" : o.substr(eq + 1);
        if (!name.starts_with("CONFIG_") || name.size() == 7 || (value != "y" && value != "n")) {
            return make_error("kconfig '{}': expected CONFIG_NAME=y or CONFIG_NAME=n", o);
        }
        if (value == "y") {
            set.insert(name.substr(7));
        } else {
            set.erase(name.substr(7));
        }
    }
    // The engine reads the register block as the variant lays it out; the file writes it as its
    // Kconfig says: both must be ftrace_regs (WITH_ARGS) or both pt_regs (WITH_REGS).
    const bool with_args = set.contains("DYNAMIC_FTRACE_WITH_ARGS");
    if (with_args == saves_pt_regs(layout.variant)) {
        return make_error("kconfig: CONFIG_DYNAMIC_FTRACE_WITH_ARGS={} but the trampoline '{}' "
                          "passes {}; kernel {} builds '{}'",
                          with_args ? "y" : "n", layout.name,
                          with_args ? "pt_regs" : "struct ftrace_regs", era.name,
                          era.default_trampoline);
    }
    const bool call_ops = set.contains("DYNAMIC_FTRACE_WITH_CALL_OPS");
    if (call_ops != layout.call_ops) {
        return make_error("kconfig: CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS={} but the trampoline is "
                          "'{}' (call sites built {} the ops literal); set ftrace = \"{}\"",
                          call_ops ? "y" : "n", layout.name, layout.call_ops ? "with" : "without",
                          call_ops ? "call-ops" : "args");
    }
    return std::vector<std::string>(set.begin(), set.end());
}

} // namespace klpemu::patcher
