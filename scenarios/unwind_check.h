// The reliability check of one scenario run: a MachineChecker (unwinder/machine_checker.h)
// attached to the scenario's machine, fed with everything the runner loads. It keeps the CFI
// table in step with the machine's loaded objects (.eh_frame of the guest's own assembly, the
// trampolines, compiled C), re-resolves the checker's symbols after each load, hands the graph
// tracer's per-task return stacks to the checker, and splits the checker's findings in two:
// those of the policies the scenario asked for (transcript, verdict) and those of policies only
// the command line added (observed: counted in the report, never in the transcript, so goldens
// stay the same whatever `klpemu run --policies` says).
#pragma once

#include "emu/cfi_table.h"
#include "emu/finding.h"
#include "emu/machine.h"
#include "scenarios/scenario_file.h"
#include "scenarios/unwind_report.h"
#include "unwinder/unwinder.h"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace klpemu::patcher {
class Ftrace;
}

namespace klpemu::scenario {

// What the command line asks of every scenario (`klpemu run --policies`, `--report unwind`).
struct UnwindRequest {
    std::vector<std::string> policies; // Policies to observe everywhere; empty: none.
    bool report = false;               // --report unwind: observe the scenario's own policy.
    bool full_walk = false; // --full-walk: every policy walks from scratch at every boundary.
};

// The policies a scenario asserts (empty: it did not ask for the check).
std::vector<std::string> asserted_policies(const MachineSpec& machine);
// "all" or comma-separated policy names, validated; error names the unknown one.
Result<std::vector<std::string>> parse_policy_list(std::string_view text);

class UnwindCheck {
  public:
    // Attaches to `machine` (which must outlive this); `ftrace` may be null.
    UnwindCheck(emu::Machine& machine, patcher::Ftrace* ftrace, std::vector<std::string> asserted,
                std::vector<std::string> observed, bool full_walk = false);
    ~UnwindCheck();
    UnwindCheck(const UnwindCheck&) = delete;
    UnwindCheck& operator=(const UnwindCheck&) = delete;

    // After objects were loaded: adds their CFI and resolves the checker's symbols again.
    void objects_loaded();
    // After tasks were created (before they run): hands their graph return stacks over.
    void tasks_created();
    // Findings of asserted policies (and shadow-stack mismatches when any policy is asserted)
    // reported since the previous call.
    std::vector<Finding> take_findings();
    UnwindReport report() const;

    const CfiTable& cfi() const { return m_cfi; }
    // The checker itself: ground truth per task, for the step debugger's `bt`.
    const unwinder::ReliabilityChecker& checker() const { return m_checker->checker(); }
    std::span<const GuestAddr> bottom_return_addresses() const;

    // Judges a trace that some part of klpemu called reliable for `task`, taken now while the
    // task is at `pc` (the stacktrace tracer; later the livepatch transition and the
    // debugger): if it differs from the ground truth's return addresses, an
    // `unsound-reliable-trace` finding naming `producer`, the policy and both traces. Nothing
    // when the truth is incomplete (the task ran before the check was attached).
    std::optional<Finding> judge_reliable_trace(const emu::Task& task, int cpu, GuestAddr pc,
                                                std::string_view policy, std::string_view producer,
                                                std::span<const GuestAddr> trace) const;
    // The graph return stack of `task`, or null without ftrace.
    const GraphReturnStack* graph_stack(int task) const;

  private:
    bool asserted(std::string_view policy) const;

    emu::Machine& m_machine;
    patcher::Ftrace* m_ftrace;
    std::vector<std::string> m_asserted;
    CfiTable m_cfi;
    size_t m_cfi_sections = 0;
    int m_tasks_wired = 0;
    size_t m_findings_taken = 0;
    std::unique_ptr<unwinder::MachineChecker> m_checker;
};

} // namespace klpemu::scenario
