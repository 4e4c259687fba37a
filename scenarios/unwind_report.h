// What the reliability checker (unwinder/machine_checker.h) saw during one scenario, as plain
// values for the reports: per policy, how many instruction boundaries were compared with the
// ground truth and how each answer came out, the boundaries where a reliable trace was wrong,
// and the same counts per function. `klpemu run --report unwind` prints it; the JSON report
// puts it under each scenario's "stats"."unwind".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace klpemu::scenario {

struct UnwindCounts {
    uint64_t checked = 0;          // Views compared with a complete ground truth.
    uint64_t reliable_correct = 0; // Reliable and equal to the truth.
    uint64_t unreliable = 0;       // Unreliable although the truth was complete.
    uint64_t unsound = 0;          // Reliable and wrong.
    uint64_t skipped = 0;          // The truth was incomplete (the task ran before the check).
};

// One boundary where a policy said "reliable" and was wrong (first report per pc and view).
struct UnsoundBoundary {
    std::string where; // Symbolized pc, e.g. "ftrace_caller+0x4".
    uint64_t pc = 0;
    std::string view; // "interrupted" or "blocked".
    std::string task;
};

// What a policy would have decided at every stack check of a livepatch transition
// (klp_try_switch_task) had the transition used it, judged against the ground truth.
struct TransitionVerdict {
    uint64_t asked = 0;        // Stack checks of tasks that were not running.
    uint64_t would_switch = 0; // The policy's trace was reliable and clean: the task switches.
    uint64_t premature = 0;    // ... although its true stack held a function being replaced.
};

struct UnwindPolicyReport {
    std::string policy;
    // The scenario asked for this policy: its findings are in the transcript and the verdict.
    // Otherwise the command line added it and it is only observed.
    bool asserted = false;
    UnwindCounts counts;
    std::vector<UnsoundBoundary> unsound;
    // Set in scenarios with livepatch transitions (scenarios/livepatch_shell.h).
    std::optional<TransitionVerdict> transition;
};

struct UnwindFunctionRow {
    std::string function;
    std::string policy;
    UnwindCounts counts;
};

struct UnwindReport {
    std::vector<UnwindPolicyReport> policies;
    std::vector<UnwindFunctionRow> functions; // Sorted by function, then policy order.
};

} // namespace klpemu::scenario
