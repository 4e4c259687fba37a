// KTAP version 1 (Documentation/dev-tools/ktap.rst), as kselftest prints it: each scenario is
// a test whose expectations form an indented subtest; diagnostics (errors, diffs) are `# `
// lines before the result line, and skips carry `# SKIP reason`.
#include "scenarios/report_formats.h"

#include "emu/printable_text.h"

#include <fmt/format.h>

namespace klpemu::scenario {

namespace {

void diagnostics(std::string& out, std::string_view text, std::string_view indent) {
    size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        out += fmt::format("{}# {}\n", indent, text.substr(start, end - start));
        start = end + 1;
    }
}

// KTAP descriptions must not contain '#' (it starts a directive) or newlines.
std::string description(std::string_view text) {
    std::string out;
    for (char c : text) {
        out += c == '#' ? '_' : c == '\n' ? ' ' : c;
    }
    return out;
}

} // namespace

std::string report_ktap(const std::vector<ScenarioResult>& results) {
    std::string out = fmt::format("KTAP version 1\n1..{}\n", results.size());
    for (size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (!r.kernel.empty()) {
            diagnostics(out, fmt::format("kernel: {}", r.kernel), "");
        }
        if (!r.expectations.empty()) {
            out += "  KTAP version 1\n";
            out += fmt::format("  # Subtest: {}\n", description(r.name));
            out += fmt::format("  1..{}\n", r.expectations.size());
            for (size_t j = 0; j < r.expectations.size(); ++j) {
                const auto& e = r.expectations[j];
                if (!e.passed) {
                    diagnostics(out, fmt::format("{}: {}", e.loc.str(), e.detail), "  ");
                }
                out += fmt::format("  {} {} {}\n", e.passed ? "ok" : "not ok", j + 1,
                                   description(e.text));
            }
        }
        if (!r.message.empty() && r.status != Status::Skip) {
            diagnostics(out, r.message, "");
        }
        if (!r.diff.empty()) {
            diagnostics(out, r.diff, "");
        }
        const auto name = description(r.name);
        switch (r.status) {
        case Status::Pass: out += fmt::format("ok {} {}\n", i + 1, name); break;
        case Status::Fail: out += fmt::format("not ok {} {}\n", i + 1, name); break;
        case Status::Error: out += fmt::format("not ok {} {} # ERROR\n", i + 1, name); break;
        case Status::Skip:
            out += fmt::format("ok {} {} # SKIP {}\n", i + 1, name, description(r.message));
            break;
        }
    }
    const auto s = summarize(results);
    out += fmt::format("# Totals: pass:{} fail:{} xfail:0 xpass:0 skip:{} error:{}\n", s.pass,
                       s.fail, s.skip, s.error);
    return printable_document(out);
}

} // namespace klpemu::scenario
