// The features the machine backend can attach (machine_feature.h), in attach order: a feature
// may use the ones before it. Adding a mechanism adds its FeatureKind here.
#pragma once

#include "scenarios/machine_feature.h"

#include <vector>

namespace klpemu::scenario {

std::vector<FeatureKind> machine_features();

} // namespace klpemu::scenario
