// The reliability-check feature (see unwind_feature.h).
#include "scenarios/unwind_feature.h"

#include "scenarios/ftrace_feature.h"

#include <algorithm>

namespace klpemu::scenario {

std::vector<std::string> observed_policies(const Scenario& scenario, const UnwindRequest& request) {
    std::vector<std::string> observed = request.policies;
    if (request.report && observed.empty()) {
        observed.push_back(scenario.machine.unwinder);
    }
    const auto asserted = asserted_policies(scenario.machine);
    std::erase_if(observed, [&](const std::string& p) {
        return std::find(asserted.begin(), asserted.end(), p) != asserted.end();
    });
    return observed;
}

namespace {

bool wanted(const Scenario& s, const UnwindRequest& request) {
    return !asserted_policies(s.machine).empty() || !observed_policies(s, request).empty();
}

void configure(const Scenario& /*scenario*/, emu::MachineConfig& /*config*/) {}

Result<std::unique_ptr<MachineFeature>> attach(FeatureHost& host) {
    auto* ftrace = host.feature<FtraceFeature>();
    auto check = std::make_unique<UnwindCheck>(host.machine(), ftrace ? &ftrace->ftrace() : nullptr,
                                               asserted_policies(host.scenario().machine),
                                               observed_policies(host.scenario(), host.request()));
    return std::unique_ptr<MachineFeature>(std::make_unique<UnwindFeature>(std::move(check)));
}

} // namespace

FeatureKind UnwindFeature::kind() {
    return FeatureKind{"unwind", wanted, configure, attach};
}

bool UnwindFeature::take_events(std::vector<BackendEvent>& out) {
    for (auto& f : m_check->take_findings()) {
        BackendEvent b;
        b.kind = BackendEvent::Kind::Finding;
        b.instruction = f.instruction;
        b.cpu = f.cpu.value_or(-1);
        b.task = f.task;
        b.finding = std::move(f);
        out.push_back(std::move(b));
    }
    return true;
}

} // namespace klpemu::scenario
