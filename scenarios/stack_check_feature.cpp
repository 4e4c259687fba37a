// The stack-check feature (see stack_check_feature.h).
#include "scenarios/stack_check_feature.h"

namespace klpemu::scenario {

namespace {

bool wanted(const Scenario& /*scenario*/, const UnwindRequest& /*request*/) {
    return true;
}

void configure(const Scenario& /*scenario*/, emu::MachineConfig& config) {
    config.observe_memory_writes = true;
}

Result<std::unique_ptr<MachineFeature>> attach(FeatureHost& host) {
    return std::unique_ptr<MachineFeature>(std::make_unique<StackCheckFeature>(
        std::make_unique<emu::StoreBelowSpCheck>(host.machine())));
}

} // namespace

FeatureKind StackCheckFeature::kind() {
    return FeatureKind{"stack-check", wanted, configure, attach};
}

} // namespace klpemu::scenario
