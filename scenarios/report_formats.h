// Report writers for `klpemu run --format`: plain text for people, KTAP for kselftest-style
// harnesses, JUnit XML for CI dashboards, JSON for scripts. All take the same verdict list and
// return the whole document; none prints timestamps or host paths beyond the file names given.
#pragma once

#include "scenarios/scenario_result.h"

#include <string>
#include <vector>

namespace klpemu::scenario {

// One line per scenario, failures and errors in detail, then "N passed, N failed, ...".
std::string report_text(const std::vector<ScenarioResult>& results);

// KTAP version 1: one test per scenario, its expectations as a nested subtest.
std::string report_ktap(const std::vector<ScenarioResult>& results);

// JUnit XML: one <testsuite name="klpemu">, one <testcase> per scenario.
std::string report_junit(const std::vector<ScenarioResult>& results);

// `--report unwind`: per scenario that ran the reliability checker, the per-policy table, the
// boundaries where a policy was unsound, and the per-function table.
std::string report_unwind(const std::vector<ScenarioResult>& results);

// The stable JSON shape documented in docs/scenario-format.md ("Reports").
std::string report_json(const std::vector<ScenarioResult>& results);

} // namespace klpemu::scenario
