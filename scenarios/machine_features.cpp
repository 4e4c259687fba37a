// The machine backend's feature list (see machine_features.h).
#include "scenarios/machine_features.h"

#include "scenarios/ftrace_feature.h"
#include "scenarios/livepatch_feature.h"
#include "scenarios/modules_feature.h"
#include "scenarios/stack_check_feature.h"
#include "scenarios/unwind_feature.h"

namespace klpemu::scenario {

std::vector<FeatureKind> machine_features() {
    return {
        StackCheckFeature::kind(), // Every scenario: store-below-sp on every kernel stack.
        FtraceFeature::kind(),     // Trampolines must be in place before objects are loaded.
        ModulesFeature::kind(),    // Hands module call sites to ftrace.
        UnwindFeature::kind(),     // Reads ftrace's graph return stacks.
        LivepatchFeature::kind(),  // An ftrace ops client whose modules ModulesFeature places.
    };
}

} // namespace klpemu::scenario
