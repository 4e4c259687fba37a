// Verdict names, counting and the exit status rule (see scenario_result.h).
#include "scenarios/scenario_result.h"

namespace klpemu::scenario {

std::string_view status_name(Status s) {
    switch (s) {
    case Status::Pass: return "pass";
    case Status::Fail: return "fail";
    case Status::Error: return "error";
    case Status::Skip: return "skip";
    }
    return "?";
}

Summary summarize(const std::vector<ScenarioResult>& results) {
    Summary s;
    for (const auto& r : results) {
        switch (r.status) {
        case Status::Pass: ++s.pass; break;
        case Status::Fail: ++s.fail; break;
        case Status::Error: ++s.error; break;
        case Status::Skip: ++s.skip; break;
        }
    }
    return s;
}

int exit_status(const Summary& summary) {
    if (summary.error > 0) {
        return 2;
    }
    return summary.fail > 0 ? 1 : 0;
}

} // namespace klpemu::scenario
