// The JSON report. Its shape is a documented, stable interface for scripts:
//   {"scenarios":[{"name","file","kernel","status","message","findings":[{"kind","where","message"}],
//     "expectations":[{"text","status"}],"stats":{"instructions","cycles","unwind"?}}],
//    "summary":{"pass","fail","error","skip"}}
// `findings` lists every finding of the run, expected or not. "unwind" appears when the
// reliability checker ran: {policy: {"asserted","checked","reliable_correct","unreliable",
// "unsound","skipped","unsound_at":[{"where","pc","view","task"}],
// "functions":{function: {"checked","reliable_correct","unreliable","unsound","skipped"}},
// "transition"?:{"asked","would_switch","premature","safe"}}} ("transition" in livepatch
// scenarios: the policy's decisions at every klp_try_switch_task stack check).
#include "scenarios/report_formats.h"

#include "emu/check.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace klpemu::scenario {

namespace {

nlohmann::json counts_json(const UnwindCounts& c) {
    return {{"checked", c.checked},
            {"reliable_correct", c.reliable_correct},
            {"unreliable", c.unreliable},
            {"unsound", c.unsound},
            {"skipped", c.skipped}};
}

nlohmann::json unwind_json(const UnwindReport& report) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& p : report.policies) {
        nlohmann::json at = nlohmann::json::array();
        for (const auto& u : p.unsound) {
            at.push_back({{"where", u.where},
                          {"pc", fmt::format("{:#x}", u.pc)},
                          {"view", u.view},
                          {"task", u.task}});
        }
        out[p.policy] = counts_json(p.counts);
        out[p.policy]["asserted"] = p.asserted;
        out[p.policy]["unsound_at"] = std::move(at);
        out[p.policy]["functions"] = nlohmann::json::object();
        if (p.transition) {
            // Would a transition using this policy have completed safely: no task switched
            // while its true stack held a function being replaced.
            out[p.policy]["transition"] = {{"asked", p.transition->asked},
                                           {"would_switch", p.transition->would_switch},
                                           {"premature", p.transition->premature},
                                           {"safe", p.transition->premature == 0}};
        }
    }
    // The same counts per function (the --report unwind table), under each policy.
    for (const auto& f : report.functions) {
        KLP_CHECK(out.contains(f.policy), "function row for policy {} with no policy row",
                  f.policy);
        out[f.policy]["functions"][f.function] = counts_json(f.counts);
    }
    return out;
}

} // namespace

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
        nlohmann::json stats{{"instructions", r.instructions}, {"cycles", r.cycles}};
        if (r.unwind) {
            stats["unwind"] = unwind_json(*r.unwind);
        }
        scenarios.push_back({{"name", r.name},
                             {"file", r.file},
                             {"kernel", r.kernel},
                             {"status", std::string(status_name(r.status))},
                             {"message", r.message},
                             {"findings", std::move(findings)},
                             {"expectations", std::move(expectations)},
                             {"stats", std::move(stats)}});
    }
    const auto s = summarize(results);
    nlohmann::json doc{
        {"scenarios", std::move(scenarios)},
        {"summary", {{"pass", s.pass}, {"fail", s.fail}, {"error", s.error}, {"skip", s.skip}}}};
    // Invalid UTF-8 would make dump() throw: replace it (U+FFFD); control characters become
    // JSON escapes.
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

} // namespace klpemu::scenario
