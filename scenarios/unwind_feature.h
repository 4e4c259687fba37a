// The reliability-check feature of the machine backend (machine_feature.h): an UnwindCheck
// attached when the scenario asserts unwinder policies (check_unwind) or the command line
// observes some (`--policies`, `--report unwind`). It follows every object and task the
// scenario adds and reports the asserted policies' findings into the transcript.
#pragma once

#include "scenarios/machine_feature.h"
#include "scenarios/unwind_check.h"

#include <memory>

namespace klpemu::scenario {

class UnwindFeature final : public MachineFeature {
  public:
    static FeatureKind kind();

    explicit UnwindFeature(std::unique_ptr<UnwindCheck> check) : m_check(std::move(check)) {}

    UnwindCheck& check() { return *m_check; }

    void objects_loaded() override { m_check->objects_loaded(); }
    void tasks_created() override { m_check->tasks_created(); }
    bool take_events(std::vector<BackendEvent>& out) override;
    std::optional<UnwindReport> unwind_report() const override { return m_check->report(); }

  private:
    std::unique_ptr<UnwindCheck> m_check;
};

// The policies the command line adds to the scenario's own (observed, not asserted).
std::vector<std::string> observed_policies(const Scenario& scenario, const UnwindRequest& request);

} // namespace klpemu::scenario
