// `klpemu run [FILE|DIR...]`: runs scenarios and reports verdicts (design.md §7). With no
// argument it runs the bundled library. Exit status: 0 every scenario passed or was skipped,
// 1 a scenario failed, 2 bad input or an error.
#include "emu/compile_cache.h"
#include "emu/kernel_era.h"
#include "scenarios/chrome_trace.h"
#include "scenarios/machine_backend.h"
#include "scenarios/report_formats.h"
#include "scenarios/runner.h"
#include "scenarios/scenario_discovery.h"
#include "tools/run_reports.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace klpemu::tools {

namespace {

namespace fs = std::filesystem;
using namespace klpemu::scenario;

struct RunCommandOptions {
    std::vector<std::string> paths;
    std::string format = "text";
    std::string trace_file;
    bool update = false;
    bool full_walk = false;           // --full-walk
    bool no_cache = false;            // --no-cache
    std::string policies;             // --policies all|NAME[,NAME...]
    std::vector<std::string> reports; // --report NAME, repeatable (tools/run_reports.h)
    int skip_exit_code = 0;           // --skip-exit-code N: exit N when every scenario skipped.
    std::string cycles;               // --cycles fast|pipeline (overrides [machine] cycles)
    bool kselftest = false;           // --kselftest: stdout is the selftests' view.
    std::string ftrace_source;        // --ftrace-source PATH ([machine] ftrace_source for all)
    std::string kernel;               // --kernel ERA ([machine] kernel for all)
};

// --kselftest: each scenario's check_result view (scenarios/kselftest_view.h). One scenario:
// exactly its view, to diff with the kernel's expected text; several: each after a
// `==> FILE <==` header, separated by an empty line.
std::string kselftest_views(const std::vector<ScenarioResult>& results) {
    if (results.size() == 1) {
        return results.front().kselftest_view;
    }
    std::string out;
    for (const auto& r : results) {
        out += fmt::format("{}==> {} <==\n{}", out.empty() ? "" : "\n", r.file, r.kselftest_view);
    }
    return out;
}

fs::path self_exe() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path{} : p;
}

int run_scenarios(const RunCommandOptions& o) {
    if (!o.kernel.empty()) { // The option's validator has checked the name.
        if (o.update) {
            std::fprintf(stderr, "klpemu: error: --update with --kernel would record another "
                                 "kernel's transcripts as the goldens\n");
            return 2;
        }
    }
    if (o.update && !o.ftrace_source.empty()) {
        std::fprintf(stderr, "klpemu: error: --update with --ftrace-source would record another "
                             "trampoline's transcripts as the goldens\n");
        return 2;
    }
    auto paths = o.paths;
    if (paths.empty()) {
        auto library = bundled_library(self_exe());
        if (!library) {
            std::fprintf(stderr,
                         "klpemu: error: no scenario library found (looked in %s/scenarios "
                         "and <exe dir>/../share/klpemu/scenarios)\n",
                         KLPEMU_SOURCE_ROOT);
            return 2;
        }
        paths.push_back(library->string());
    }
    auto files = collect_scenarios(paths);
    if (!files) {
        std::fprintf(stderr, "%s\n", files.error().message.c_str());
        return 2;
    }

    UnwindRequest unwind;
    unwind.report = std::find(o.reports.begin(), o.reports.end(), "unwind") != o.reports.end();
    unwind.full_walk = o.full_walk;
    if (!o.policies.empty()) {
        auto policies = parse_policy_list(o.policies);
        if (!policies) {
            std::fprintf(stderr, "klpemu: error: --policies: %s\n",
                         policies.error().message.c_str());
            return 2;
        }
        unwind.policies = std::move(*policies);
    }

    // The trace file is opened before anything runs, so a path that cannot be written costs
    // nothing, and is written while the scenarios run (chrome_trace.h).
    std::ofstream trace_out;
    if (!o.trace_file.empty()) {
        trace_out.open(o.trace_file, std::ios::binary | std::ios::trunc);
        if (!trace_out) {
            std::fprintf(stderr, "klpemu: error: cannot write trace file %s: %s\n",
                         o.trace_file.c_str(), std::strerror(errno));
            return 2;
        }
    }
    std::optional<ChromeTrace> trace;
    if (trace_out.is_open()) {
        trace.emplace(trace_out);
    }
    RunOptions options;
    options.update_golden = o.update;
    options.cycles = o.cycles;
    options.ftrace_source = o.ftrace_source;
    options.kernel = o.kernel;
    options.trace = trace ? &*trace : nullptr;
    Runner runner(machine_backend_factory(
        unwind, o.no_cache ? std::nullopt : klpemu::CompileCache::default_dir()));
    std::vector<ScenarioResult> results;
    for (const auto& file : *files) {
        results.push_back(runner.run_file(file, options));
    }

    std::string report;
    if (o.format == "ktap") {
        report = report_ktap(results);
    } else if (o.format == "junit") {
        report = report_junit(results);
    } else if (o.format == "json") {
        report = report_json(results);
    } else {
        report = report_text(results);
    }
    if (unwind.report && o.format != "json") { // JSON carries it as each scenario's stats.unwind.
        append_side_report(report_unwind(results), o.format, report);
    }
    const Result<void> added =
        add_run_reports(o.reports, o.format, report,
                        o.cycles == "pipeline" ? CycleAccuracy::Pipeline : CycleAccuracy::Fast);
    if (o.kselftest) { // The verdicts go to stderr, so stdout can be diffed.
        const std::string views = kselftest_views(results);
        std::fwrite(views.data(), 1, views.size(), stdout);
        std::fflush(stdout);
        std::fwrite(report.data(), 1, report.size(), stderr);
    } else {
        std::fwrite(report.data(), 1, report.size(), stdout);
        std::fflush(stdout);
    }

    if (trace && !trace->finish()) {
        std::fprintf(stderr, "klpemu: error: cannot write trace file %s (%llu events written)\n",
                     o.trace_file.c_str(),
                     static_cast<unsigned long long>(trace->events_written()));
        return 2;
    }
    if (!added.ok()) {
        std::fprintf(stderr, "%s\n", added.error().message.c_str());
        return 2;
    }
    const Summary summary = summarize(results);
    if (o.skip_exit_code != 0 && summary.skip > 0 && summary.skip == int(results.size())) {
        return o.skip_exit_code; // ctest's SKIP_RETURN_CODE: shown as skipped, not passed.
    }
    return exit_status(summary);
}

} // namespace

// Registers `run` on `app`; its exit status goes to `exit_status`.
void register_run_command(CLI::App& app, int& exit_status) {
    auto options = std::make_shared<RunCommandOptions>();
    auto* run = app.add_subcommand("run", "Run scenario files (default: the bundled library)");
    run->add_option("paths", options->paths,
                    "Scenario files or directories (searched recursively)");
    run->add_option("--format", options->format, "Report format")
        ->check(CLI::IsMember({"text", "ktap", "junit", "json"}))
        ->capture_default_str();
    run->add_option("--trace", options->trace_file,
                    "Write a Chrome trace (Perfetto) JSON file: ts = instruction count");
    run->add_option("--policies", options->policies,
                    "Also check these unwinder policies in every scenario (all or NAME,NAME; "
                    "observed only: counted in reports, never in transcripts or verdicts)");
    run->add_flag("--full-walk", options->full_walk,
                  "Reliability check without incremental reuse: every policy walks from scratch "
                  "at every boundary (slow; the reference the incremental checker must equal)");
    run->add_flag("--no-cache", options->no_cache,
                  "Compile every C object again instead of reusing compiled objects from "
                  "$XDG_CACHE_HOME/klpemu (default ~/.cache/klpemu)");
    run->add_option("--cycles", options->cycles,
                    "Cycle model for every scenario and report, overriding [machine] cycles: "
                    "fast (default; llvm-mca's pipeline rules approximated per instruction) or "
                    "pipeline (llvm-mca's library in process; slower). Both add branch "
                    "prediction, I-cache/I-TLB, exception and text-patching costs "
                    "(docs/machine.md)")
        ->check(CLI::IsMember({"fast", "pipeline"}));
    run->add_option("--ftrace-source", options->ftrace_source,
                    "Run every scenario with this entry-ftrace.S (a kernel tree's "
                    "arch/arm64/kernel/entry-ftrace.S, unchanged) as its ftrace trampoline, built "
                    "for the scenario's kernel era (docs/own-code.md)")
        ->check(CLI::ExistingFile);
    run->add_option("--kernel", options->kernel,
                    "Read every scenario for this kernel era, as if its [machine] kernel said so "
                    "(docs/eras.md: 4.19-v3, 4.19-v4, 5.5, 5.10, 6.1, 6.3, 6.4, 6.5, 6.17); with "
                    "--ftrace-source, the era of the tree the file comes from")
        ->check(CLI::Validator(
            [](std::string& name) { // An empty name is an unknown era, not "no override".
                auto era = emu::parse_kernel_era(name);
                return era ? std::string() : era.error().message;
            },
            "ERA"));
    run->add_flag("--kselftest", options->kselftest,
                  "Print each scenario's transcript as the livepatch selftests' check_result "
                  "sees the kernel log (their `% ` shell lines and the log lines with "
                  "'livepatch:' or 'test_klp'); the verdicts go to standard error");
    run->add_flag("--update", options->update,
                  "Rewrite each scenario's golden transcript (NAME.expected) from this run");
    run->add_option("--report", options->reports,
                    "Also print a report after the verdicts: overhead (ftrace cost per traced "
                    "call, per trampoline variant and core) or unwind (reliability-check "
                    "statistics per policy and function, and each unsound PC)")
        ->check(CLI::IsMember(run_report_names()))
        ->allow_extra_args(false);
    run->add_option("--skip-exit-code", options->skip_exit_code,
                    "Exit with this status when every scenario was skipped (for ctest's "
                    "SKIP_RETURN_CODE)")
        ->check(CLI::Range(3, 255));
    run->callback([options, &exit_status] { exit_status = run_scenarios(*options); });
}

} // namespace klpemu::tools
