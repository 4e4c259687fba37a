// Runs one scenario file end to end: parse, check requirements, load objects and start tasks
// on a backend, play the timeline (triggers, then actions) while writing the transcript, judge
// the expectations, and compare the transcript with the golden file next to the scenario.
#pragma once

#include "scenarios/backend.h"
#include "scenarios/scenario_result.h"

#include <filesystem>

namespace klpemu::scenario {

class ChromeTrace;

struct RunOptions {
    bool update_golden = false;   // Rewrite NAME.expected instead of comparing with it.
    ChromeTrace* trace = nullptr; // Receives one process per scenario when set.
    std::string cycles;           // Non-empty: overrides every scenario's [machine] cycles.
};

class Runner {
  public:
    explicit Runner(BackendFactory factory) : m_factory(std::move(factory)) {}

    // Runs the scenario at `file`; never throws, every problem becomes a verdict.
    ScenarioResult run_file(const std::filesystem::path& file, const RunOptions& options) const;

    // Runs an already parsed scenario (parse errors are the caller's).
    ScenarioResult run(const Scenario& scenario, const RunOptions& options) const;

  private:
    BackendFactory m_factory;
};

} // namespace klpemu::scenario
