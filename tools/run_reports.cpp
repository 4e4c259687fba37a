// The extra reports of `klpemu run` (see run_reports.h): measured once per invocation, after
// the scenarios, and rendered into whichever report format the run uses without disturbing it.
#include "tools/run_reports.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

namespace klpemu::tools {

namespace {

using patcher::OverheadRow;
using patcher::TrampolineVariant;

constexpr std::string_view kOverhead = "overhead";

// The row of `variant` on `core`; rows come from one measure_ftrace_overhead() call.
const OverheadRow* find_row(const std::vector<OverheadRow>& rows, TrampolineVariant variant,
                            std::string_view core) {
    auto it = std::find_if(rows.begin(), rows.end(), [&](const OverheadRow& r) {
        return r.variant == variant && r.core == core;
    });
    return it == rows.end() ? nullptr : &*it;
}

nlohmann::json overhead_json(const std::vector<OverheadRow>& rows) {
    nlohmann::json out = nlohmann::json::array();
    for (TrampolineVariant variant : patcher::all_trampoline_variants()) {
        nlohmann::json cycles = nlohmann::json::object();
        nlohmann::json enable = nlohmann::json::object();
        uint64_t instructions = 0;
        for (const std::string& core : overhead_report_cores()) {
            if (const OverheadRow* row = find_row(rows, variant, core)) {
                instructions = row->instructions_per_call();
                cycles[core] = row->cycles_per_call();
                enable[core] = row->enable_cycles;
            }
        }
        out.push_back({{"variant", std::string(patcher::trampoline_layout(variant).name)},
                       {"instructions_per_call", instructions},
                       {"cycles_per_call", std::move(cycles)},
                       {"enable_cycles", std::move(enable)}});
    }
    return out;
}

// `text` with every line prefixed by `prefix`.
std::string prefixed(std::string_view text, std::string_view prefix) {
    std::string out;
    std::istringstream in{std::string(text)};
    for (std::string line; std::getline(in, line);) {
        out += fmt::format("{}{}\n", prefix, line);
    }
    return out;
}

} // namespace

std::vector<std::string> run_report_names() {
    return {std::string(kOverhead), "unwind"};
}

void append_side_report(std::string_view text, std::string_view format, std::string& report) {
    if (format == "ktap") {
        report += prefixed(text, "# ");
    } else if (format == "junit") {
        report += fmt::format("<!--\n{}-->\n", text);
    } else {
        report += "\n";
        report += text;
    }
}

std::vector<std::string> overhead_report_cores() {
    return {"cortex-a53", "cortex-a72", "neoverse-n1"};
}

std::string overhead_table(const std::vector<OverheadRow>& rows) {
    const std::vector<std::string> cores = overhead_report_cores();
    std::vector<std::string> headers{"variant", "insns/call"};
    for (const std::string& core : cores) {
        headers.push_back(fmt::format("cycles/call ({})", core));
    }
    std::string out = fmt::format("{:<10}", headers[0]);
    for (size_t i = 1; i < headers.size(); ++i) {
        out += fmt::format("  {}", headers[i]);
    }
    out += "\n";
    for (TrampolineVariant variant : patcher::all_trampoline_variants()) {
        std::string insns = "-";
        std::string line;
        for (size_t i = 0; i < cores.size(); ++i) {
            const OverheadRow* row = find_row(rows, variant, cores[i]);
            if (row != nullptr && i == 0) {
                insns = fmt::format("{}", row->instructions_per_call());
            }
            const std::string cycles =
                row == nullptr ? "-" : fmt::format("{:.1f}", row->cycles_per_call());
            line += fmt::format("  {:>{}}", cycles, headers[i + 2].size());
        }
        out += fmt::format("{:<10}  {:>{}}{}\n", patcher::trampoline_layout(variant).name, insns,
                           headers[1].size(), line);
    }
    // Enabling patches the same call site whatever the variant: report the args row.
    out += "\nenabling the tracer on leaf() (aarch64_insn_patch_text_nosync, patching CPU):";
    for (const std::string& core : cores) {
        const OverheadRow* row = find_row(rows, TrampolineVariant::Args, core);
        out += row == nullptr ? fmt::format(" {} -", core)
                              : fmt::format(" {} {} cycles", core, row->enable_cycles);
        out += &core == &cores.back() ? "" : ",";
    }
    out += "; every other CPU: one ISB\n";
    return out;
}

Result<void> add_run_reports(const std::vector<std::string>& names, std::string_view format,
                             std::string& report, CycleAccuracy cycles) {
    if (std::find(names.begin(), names.end(), kOverhead) == names.end()) {
        return {};
    }
    auto rows = patcher::measure_ftrace_overhead(overhead_report_cores(),
                                                 patcher::all_trampoline_variants(), 64, cycles);
    if (!rows.ok()) {
        return make_error("klpemu: error: --report overhead: {}", rows.error().message);
    }
    if (format == "json") {
        nlohmann::json doc = nlohmann::json::parse(report);
        doc["reports"][std::string(kOverhead)] = overhead_json(*rows);
        report = doc.dump(2) + "\n";
        return {};
    }
    const std::string title = fmt::format(
        "ftrace overhead per traced call (leaf_loop, {} calls, untraced vs function tracer):\n",
        rows->empty() ? 0 : rows->front().calls);
    append_side_report(title + overhead_table(*rows), format, report);
    return {};
}

} // namespace klpemu::tools
