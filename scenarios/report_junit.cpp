// JUnit XML, the dialect CI dashboards (Jenkins, GitLab) read: <testsuites> with one
// <testsuite>, a <testcase> per scenario carrying <failure>, <error> or <skipped>, and the
// transcript in <system-out>.
#include "scenarios/report_formats.h"

#include "emu/printable_text.h"

#include <fmt/format.h>

namespace klpemu::scenario {

namespace {

// XML 1.0 allows no control characters but tab, newline and CR, and the document says UTF-8:
// guest bytes are made printable first, then the markup characters escaped.
std::string xml_escape(std::string_view raw) {
    const std::string text = printable_document(raw);
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
            out += c;
            break;
        }
    }
    return out;
}

std::string failure_body(const ScenarioResult& r) {
    std::string body;
    if (!r.message.empty()) {
        body += r.message + "\n";
    }
    for (const auto& e : r.expectations) {
        if (!e.passed) {
            body += fmt::format("{}: expectation failed: {}: {}\n", e.loc.str(), e.text, e.detail);
        }
    }
    body += r.diff;
    return body;
}

} // namespace

std::string report_junit(const std::vector<ScenarioResult>& results) {
    const auto s = summarize(results);
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += fmt::format("<testsuites tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
                       results.size(), s.fail, s.error, s.skip);
    out += fmt::format("  <testsuite name=\"klpemu\" tests=\"{}\" failures=\"{}\" errors=\"{}\" "
                       "skipped=\"{}\">\n",
                       results.size(), s.fail, s.error, s.skip);
    for (const auto& r : results) {
        out += fmt::format("    <testcase name=\"{}\" classname=\"klpemu.scenarios\" file=\"{}\">\n",
                           xml_escape(r.name), xml_escape(r.file));
        if (!r.kernel.empty()) {
            out += fmt::format("      <properties><property name=\"kernel\" value=\"{}\"/>"
                               "</properties>\n",
                               xml_escape(r.kernel));
        }
        const auto body = failure_body(r);
        switch (r.status) {
        case Status::Pass: break;
        case Status::Fail:
            out += fmt::format("      <failure message=\"{}\">{}</failure>\n",
                               xml_escape(r.message.empty() ? "expectation failed" : r.message),
                               xml_escape(body));
            break;
        case Status::Error:
            out += fmt::format("      <error message=\"{}\">{}</error>\n", xml_escape(r.message),
                               xml_escape(body));
            break;
        case Status::Skip:
            out += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(r.message));
            break;
        }
        if (!r.transcript.empty()) {
            out += fmt::format("      <system-out>{}</system-out>\n", xml_escape(r.transcript));
        }
        out += "    </testcase>\n";
    }
    out += "  </testsuite>\n</testsuites>\n";
    return out;
}

} // namespace klpemu::scenario
