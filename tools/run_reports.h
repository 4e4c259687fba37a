// `klpemu run --report NAME`: reports printed after the scenario verdicts, measured on their own
// machines rather than read off a scenario run. `overhead` is the per-call cost of each ftrace
// trampoline variant (patcher/ftrace_overhead.h), the number kernel developers quote when they
// argue for one trampoline over another.
#pragma once

#include "emu/result.h"
#include "patcher/ftrace_overhead.h"

#include <string>
#include <string_view>
#include <vector>

namespace klpemu::tools {

// The names --report accepts: `overhead` (measured here) and `unwind` (the reliability check's
// statistics, gathered by the scenario runs themselves).
std::vector<std::string> run_report_names();

// Appends a plain-text side report to `report`, already rendered in `format`: text as is, ktap
// as `# ` diagnostic lines, junit as a trailing XML comment. Not for json, whose reports are keys.
void append_side_report(std::string_view text, std::string_view format, std::string& report);

// The cores the overhead report measures, in column order.
std::vector<std::string> overhead_report_cores();

// The overhead table for `rows` (every variant on every core of overhead_report_cores()), one
// line per variant: `variant  insns/call  cycles/call (<core>)...`, then, after an empty line,
// what enabling the tracer costs the patching CPU on each core.
std::string overhead_table(const std::vector<patcher::OverheadRow>& rows);

// Measures the reports in `names` and adds them to `report`, already rendered in `format`:
// text gets the tables after it, ktap as `# ` diagnostic lines, junit as a trailing XML comment,
// json under a top-level "reports" key (existing keys untouched). Error if a measurement fails.
Result<void> add_run_reports(const std::vector<std::string>& names, std::string_view format,
                             std::string& report, CycleAccuracy cycles = CycleAccuracy::Fast);

} // namespace klpemu::tools
