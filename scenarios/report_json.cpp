// The JSON report. Its shape is a documented, stable interface for scripts:
//   {"scenarios":[{"name","file","status","message","findings":[{"kind","where","message"}],
//     "expectations":[{"text","status"}],"stats":{"instructions","cycles"}}],
//    "summary":{"pass","fail","error","skip"}}
// `findings` lists every finding of the run, expected or not.
#include "scenarios/report_formats.h"

#include <nlohmann/json.hpp>

namespace klpemu::scenario {

std::string report_json(const std::vector<ScenarioResult>& results) {
    nlohmann::json scenarios = nlohmann::json::array();
    for (const auto& r : results) {
        nlohmann::json findings = nlohmann::json::array();
        for (const auto& f : r.findings) {
            findings.push_back({{"kind", f.kind}, {"where", f.where}, {"message", f.message}});
        }
        nlohmann::json expectations = nlohmann::json::array();
        for (const auto& e : r.expectations) {
            nlohmann::json entry{{"text", e.text}, {"status", e.passed ? "pass" : "fail"}};
            if (!e.passed) {
                entry["detail"] = e.detail;
            }
            expectations.push_back(std::move(entry));
        }
        scenarios.push_back({{"name", r.name},
                             {"file", r.file},
                             {"status", std::string(status_name(r.status))},
                             {"message", r.message},
                             {"findings", std::move(findings)},
                             {"expectations", std::move(expectations)},
                             {"stats", {{"instructions", r.instructions}, {"cycles", r.cycles}}}});
    }
    const auto s = summarize(results);
    nlohmann::json doc{
        {"scenarios", std::move(scenarios)},
        {"summary", {{"pass", s.pass}, {"fail", s.fail}, {"error", s.error}, {"skip", s.skip}}}};
    return doc.dump(2) + "\n";
}

} // namespace klpemu::scenario
