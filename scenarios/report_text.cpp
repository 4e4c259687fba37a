// The text report: a status column, then details for everything that did not pass.
#include "scenarios/report_formats.h"

#include "emu/printable_text.h"

#include <fmt/format.h>

namespace klpemu::scenario {

namespace {

std::string_view status_column(Status s) {
    switch (s) {
    case Status::Pass: return "PASS ";
    case Status::Fail: return "FAIL ";
    case Status::Error: return "ERROR";
    case Status::Skip: return "SKIP ";
    }
    return "?    ";
}

void indent_into(std::string& out, std::string_view text, std::string_view prefix) {
    size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        out += fmt::format("{}{}\n", prefix, text.substr(start, end - start));
        start = end + 1;
    }
}

} // namespace

std::string report_text(const std::vector<ScenarioResult>& results) {
    std::string out;
    for (const auto& r : results) {
        std::string extra;
        if (r.status == Status::Skip) {
            extra = fmt::format(" ({})", r.message);
        } else if (r.status != Status::Error) {
            const size_t findings = r.findings.size();
            extra = fmt::format(
                " ({}{} instructions, {} cycles{}{})",
                r.kernel.empty() ? "" : fmt::format("kernel {}, ", r.kernel), r.instructions,
                r.cycles,
                findings == 0 ? ""
                              : fmt::format(", {} finding{}", findings, findings == 1 ? "" : "s"),
                r.golden_updated ? ", golden updated" : "");
        }
        out += fmt::format("{} {} [{}]{}\n", status_column(r.status), r.name, r.file, extra);
    }
    for (const auto& r : results) {
        if (r.status != Status::Fail && r.status != Status::Error) {
            continue;
        }
        out += fmt::format("\n=== {} {}: {}\n", status_name(r.status), r.name, r.file);
        if (!r.message.empty()) {
            indent_into(out, r.message, "");
        }
        for (const auto& e : r.expectations) {
            if (!e.passed) {
                out += fmt::format("{}: expectation failed: {}: {}\n", e.loc.str(), e.text,
                                   e.detail);
            }
        }
        if (!r.diff.empty()) {
            out += r.diff;
        }
    }
    const auto s = summarize(results);
    out += fmt::format("\n{} passed, {} failed, {} errors, {} skipped\n", s.pass, s.fail, s.error,
                       s.skip);
    return printable_document(out);
}

} // namespace klpemu::scenario
