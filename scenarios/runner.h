// Runs one scenario file end to end: parse, check requirements, load objects and start tasks
// on a backend, play the timeline (triggers, then actions) while writing the transcript, judge
// the expectations, and compare the transcript with the golden file next to the scenario.
#pragma once

#include "scenarios/backend.h"
#include "scenarios/scenario_result.h"

#include <filesystem>
#include <functional>

namespace klpemu::scenario {

class ChromeTrace;

struct RunOptions {
    bool update_golden = false;   // Rewrite NAME.expected instead of comparing with it.
    ChromeTrace* trace = nullptr; // Receives one process per scenario when set.
    std::string cycles;           // Non-empty: overrides every scenario's [machine] cycles.
    // Non-empty: every scenario runs this entry-ftrace.S as its trampoline ([machine]
    // ftrace_source; the scenario's own kconfig overrides still apply).
    std::filesystem::path ftrace_source;
    // Non-empty: every scenario is read for this kernel era (ParseOptions::kernel).
    std::string kernel;
};

class Runner {
  public:
    explicit Runner(BackendFactory factory) : m_factory(std::move(factory)) {}

    // Called before step `index` of the timeline runs (the step debugger stops there).
    void set_before_step(std::function<void(size_t index)> f) { m_before_step = std::move(f); }

    // Runs the scenario at `file`; never throws, every problem becomes a verdict.
    ScenarioResult run_file(const std::filesystem::path& file, const RunOptions& options) const;

    // Runs an already parsed scenario (parse errors are the caller's).
    ScenarioResult run(const Scenario& scenario, const RunOptions& options) const;

  private:
    BackendFactory m_factory;
    std::function<void(size_t)> m_before_step;
};

} // namespace klpemu::scenario
