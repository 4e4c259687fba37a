// The verdict of one scenario and everything a report needs to explain it: pass (every
// expectation holds and the transcript matches its golden file), fail, error (bad input: the
// file, a source, a symbol) or skip (a required feature is not built). Report writers
// (report_formats.h) turn a list of these into text, KTAP, JUnit or JSON.
#pragma once

#include "emu/finding.h"
#include "scenarios/expectations.h"
#include "scenarios/unwind_report.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::scenario {

enum class Status { Pass, Fail, Error, Skip };

// "pass", "fail", "error", "skip".
std::string_view status_name(Status s);

struct ScenarioResult {
    std::string name;
    std::string file;     // The scenario file as found (given path or directory + relative).
    std::string kernel;   // The kernel era it ran under ("6.17"); empty if the file did not parse.
    Status status = Status::Error;
    std::string message;  // Error text, skip reason, or why the run itself failed.
    std::vector<Finding> findings; // Every finding of the run, expected or not.
    std::vector<ExpectationOutcome> expectations;
    uint64_t instructions = 0;
    uint64_t cycles = 0;
    std::string transcript;
    std::string kselftest_view; // The selftests' check_result view of it (kselftest_view.h).
    std::string golden_file;
    std::string diff;            // Unified diff golden -> transcript; empty if it matched.
    bool golden_updated = false; // --update rewrote the golden file.
    std::optional<UnwindReport> unwind; // Set when the reliability checker ran.
};

struct Summary {
    int pass = 0;
    int fail = 0;
    int error = 0;
    int skip = 0;
};

Summary summarize(const std::vector<ScenarioResult>& results);

// 0 if everything passed or was skipped, 1 if any scenario failed, 2 if any had an error.
int exit_status(const Summary& summary);

} // namespace klpemu::scenario
