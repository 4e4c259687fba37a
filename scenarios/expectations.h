// Judging `[[expect]]` entries against a run record. Each expectation yields pass or fail with
// a one-line reason that quotes what was observed instead ("add_one(41) returned 43"), so a
// failure report explains itself without rerunning the scenario.
#pragma once

#include "scenarios/run_record.h"
#include "scenarios/scenario_file.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::scenario {

struct ExpectationOutcome {
    std::string text;   // Expectation::describe().
    bool passed = false;
    std::string detail; // Why it failed (empty when it passed).
    SourceLoc loc;
};

// Resolves a symbol name to its guest address, nullopt if unknown.
using SymbolResolver = std::function<std::optional<uint64_t>(std::string_view)>;

// Judges one expectation.
ExpectationOutcome evaluate(const Expectation& e, const RunRecord& run,
                            const SymbolResolver& resolve);

// Judges all expectations in order.
std::vector<ExpectationOutcome> evaluate_all(const std::vector<Expectation>& expectations,
                                             const RunRecord& run, const SymbolResolver& resolve);

// True if a finding's location matches a `where` filter: equal, or `where` names the
// function and the location is inside it (`func` matches `func+0x8`).
bool location_matches(std::string_view location, std::string_view where);

} // namespace klpemu::scenario
