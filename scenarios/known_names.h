// The closed vocabularies of the scenario format: core models, ftrace trampoline variants,
// unwinder policies and the features a scenario may `require`. Names are validated when a file
// is parsed, even before the feature behind a name exists, so that a typo is an error that
// lists the known names rather than a silently different experiment.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace klpemu::scenario {

struct KnownName {
    std::string_view name;
    std::string_view summary;
};

// Cycle models ([machine] core); the first is the default.
std::span<const KnownName> known_cores();
// ftrace trampoline variants ([machine] ftrace), reference §2-3.
std::span<const KnownName> known_ftrace_variants();
// Unwinder policies ([machine] unwinder), design.md §5.
std::span<const KnownName> known_unwinders();

struct Feature {
    std::string_view name;
    bool built; // This build implements it; a scenario requiring an unbuilt feature is skipped.
    std::string_view summary;
    // Set when the kernel klpemu models has no such feature (so it will not be built): the
    // skip reason, as the selftest that needs it words its own skip.
    std::string_view absent_on_arm64 = {};
};

// Features a scenario can list in [scenario] requires.
std::span<const Feature> known_features();

// True if `name` is one of `names`.
bool is_known(std::span<const KnownName> names, std::string_view name);

// "a, b, c" — for "expected one of ..." messages.
std::string join_names(std::span<const KnownName> names);
std::string join_feature_names();

} // namespace klpemu::scenario
