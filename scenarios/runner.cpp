// The scenario runner (see runner.h). The timeline is played strictly in file order: a step's
// trigger runs the machine until it fires, then the action runs; everything the machine reports
// meanwhile is written under that step's `% step` line.
#include "scenarios/runner.h"

#include "scenarios/chrome_trace.h"
#include "scenarios/golden.h"
#include "scenarios/guest_value.h"
#include "scenarios/known_names.h"
#include "scenarios/kselftest_view.h"
#include "scenarios/scenario_parser.h"
#include "scenarios/transcript.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::scenario {

namespace {

// "at 500: irq 0", "when worker reaches spin: irq 0", or just "irq 0".
std::string step_line(const Step& step) {
    if (const auto* shell = std::get_if<ShellAction>(&step.action);
        shell && step.trigger.kind == Trigger::Kind::AfterPrevious) {
        return shell->shown; // As the selftests log it; empty: no line.
    }
    switch (step.trigger.kind) {
    case Trigger::Kind::AfterPrevious: return step.text;
    case Trigger::Kind::AtInstruction:
        return fmt::format("at {}: {}", step.trigger.instruction, step.text);
    case Trigger::Kind::WhenReaches:
        return fmt::format("when {}: {}", step.trigger.reach.str(), step.text);
    }
    return step.text;
}

// A shell step whose `% ` line the selftests write to the kernel log (insmod, rmmod, echo).
// The dynamic-debug echo, which functions.sh does not log, has neither of check_result's
// keywords, so no view ever shows it either way.
bool logged_by_selftests(const Step& step) {
    const auto* shell = std::get_if<ShellAction>(&step.action);
    return shell && step.trigger.kind == Trigger::Kind::AfterPrevious && !shell->shown.empty();
}

// Where a logged event's line comes from, for the views of the transcript (transcript.h).
LineKind line_kind(BackendEvent::Kind kind) {
    switch (kind) {
    case BackendEvent::Kind::Log: return LineKind::KernelLog;
    case BackendEvent::Kind::Output: return LineKind::ShellOutput;
    default: return LineKind::Other;
    }
}

// One scenario's run state: the backend, the transcript and the record being built.
class Play {
  public:
    Play(const Scenario& s, Backend& backend, ChromeTraceProcess* trace,
         std::function<void(size_t)> before_step)
        : m_s(s), m_backend(backend), m_trace(trace), m_before_step(std::move(before_step)) {}

    // Loads and starts everything, then plays the timeline. An Error is bad input; a
    // "problem" (m_problem) is a run that could not do what the timeline asked.
    Result<void> play();

    Transcript transcript;
    RunRecord record;
    std::string problem;

  private:
    Result<std::vector<uint64_t>> resolve_args(const std::vector<GuestArg>& args,
                                               const SourceLoc& loc, std::string_view what);
    Result<bool> fire_trigger(const Step& step);
    Result<bool> perform(const Step& step);
    // Copies backend events into the transcript and the record.
    void drain();
    // Handles why the machine stopped; false ends the timeline. `ran_action` is true when the
    // stop ended a `run N` action itself, where running out of work is a normal end.
    bool note_stop(RunStop stop, const Step& step, bool ran_action);

    const Scenario& m_s;
    Backend& m_backend;
    ChromeTraceProcess* m_trace;
    std::function<void(size_t)> m_before_step;
    bool m_budget_gone = false;
};

Result<std::vector<uint64_t>> Play::resolve_args(const std::vector<GuestArg>& args,
                                                 const SourceLoc& loc, std::string_view what) {
    std::vector<uint64_t> out;
    for (const auto& a : args) {
        if (const auto* n = std::get_if<uint64_t>(&a)) {
            out.push_back(*n);
            continue;
        }
        const auto& name = std::get<std::string>(a);
        auto addr = m_backend.symbol_address(name);
        if (!addr) {
            return located_error(loc, fmt::format("{}: argument '{}' is not a symbol of any "
                                                  "loaded object",
                                                  what, name));
        }
        out.push_back(*addr);
    }
    return out;
}

void Play::drain() {
    for (auto& e : m_backend.take_events()) {
        switch (e.kind) {
        case BackendEvent::Kind::Finding:
            transcript.finding(e.finding);
            if (m_trace) {
                const int tid = !e.finding.task.empty()
                                    ? m_trace->task_track(e.finding.task)
                                    : m_trace->cpu_track(e.finding.cpu.value_or(0));
                m_trace->instant(tid, e.finding.kind, "finding", e.finding.instruction,
                                 {{"where", e.finding.where}, {"message", e.finding.message}});
            }
            record.findings.push_back(std::move(e.finding));
            break;
        case BackendEvent::Kind::Log:
        case BackendEvent::Kind::Output:
        case BackendEvent::Kind::Trace:
            transcript.event(e.text, line_kind(e.kind));
            record.log.push_back(std::move(e.text));
            break;
        case BackendEvent::Kind::Patch:
            if (m_trace) {
                const int tid = !e.task.empty() ? m_trace->task_track(e.task)
                                                : m_trace->cpu_track(std::max(e.cpu, 0));
                m_trace->instant(tid, e.text, "patch", e.instruction);
            }
            transcript.event(e.text);
            break;
        case BackendEvent::Kind::Task:
        case BackendEvent::Kind::Irq: transcript.event(e.text); break;
        }
    }
}

bool Play::note_stop(RunStop stop, const Step& step, bool ran_action) {
    drain();
    if (stop == RunStop::BudgetExhausted) {
        m_budget_gone = true;
        return false;
    }
    if (stop == RunStop::Idle) {
        if (ran_action && std::holds_alternative<RunAction>(step.action)) {
            return true;
        }
        problem = fmt::format("{}: '{}' never happened: every task has exited or is blocked",
                              step.loc.str(), step_line(step));
        transcript.event("(never reached: every task has exited or is blocked)");
        return false;
    }
    return true;
}

Result<bool> Play::fire_trigger(const Step& step) {
    switch (step.trigger.kind) {
    case Trigger::Kind::AfterPrevious: return true;
    case Trigger::Kind::AtInstruction: {
        const uint64_t now = m_backend.instructions();
        if (now > step.trigger.instruction) {
            problem = fmt::format("{}: step 'at {}' is late: the clock is already at instruction "
                                  "{}",
                                  step.loc.str(), step.trigger.instruction, now);
            return false;
        }
        if (now == step.trigger.instruction) {
            return true;
        }
        auto stop = m_backend.run_for(step.trigger.instruction - now);
        KLP_TRY(stop);
        return note_stop(*stop, step, false);
    }
    case Trigger::Kind::WhenReaches: {
        if (!m_backend.symbol_address(step.trigger.reach.symbol)) {
            return located_error(step.trigger.loc,
                                 fmt::format("when: '{}' is not a symbol of any loaded object",
                                             step.trigger.reach.symbol));
        }
        auto stop = m_backend.run_until(step.trigger.reach);
        KLP_TRY(stop);
        return note_stop(*stop, step, false);
    }
    }
    return true;
}

Result<bool> Play::perform(const Step& step) {
    if (const auto* run = std::get_if<RunAction>(&step.action)) {
        auto stop = m_backend.run_for(run->instructions);
        KLP_TRY(stop);
        return note_stop(*stop, step, true);
    }
    if (const auto* until = std::get_if<UntilAction>(&step.action)) {
        if (!m_backend.symbol_address(until->reach.symbol)) {
            return located_error(step.loc, fmt::format("until: '{}' is not a symbol of any "
                                                       "loaded object",
                                                       until->reach.symbol));
        }
        auto stop = m_backend.run_until(until->reach);
        KLP_TRY(stop);
        return note_stop(*stop, step, true);
    }
    if (const auto* irq = std::get_if<IrqAction>(&step.action)) {
        KLP_TRY(m_backend.inject_irq(irq->cpu));
        drain();
        return true;
    }
    if (const auto* call = std::get_if<CallAction>(&step.action)) {
        if (!m_backend.symbol_address(call->function)) {
            return located_error(step.loc, fmt::format("call: '{}' is not a function of any "
                                                       "loaded object",
                                                       call->function));
        }
        auto args = resolve_args(call->args, step.loc, "call");
        KLP_TRY(args);
        auto outcome = m_backend.call(call->function, *args);
        if (!outcome) {
            return located_error(step.loc, outcome.error().message);
        }
        drain();
        std::string shown;
        for (const auto& a : call->args) {
            shown += shown.empty() ? "" : ", ";
            shown += arg_str(a);
        }
        const bool returned = outcome->stop == RunStop::Done;
        if (returned) {
            transcript.event(fmt::format("{}({}) = {}", call->function, shown,
                                         format_guest_value(outcome->value)));
        } else {
            transcript.event(fmt::format("{}({}) did not return", call->function, shown));
        }
        record.calls.push_back(CallRecord{call->function, std::move(*args), outcome->value, returned});
        if (outcome->stop == RunStop::BudgetExhausted) {
            m_budget_gone = true;
        }
        return !m_budget_gone;
    }
    if (const auto* module = std::get_if<ModuleAction>(&step.action)) {
        auto done = m_backend.module_action(*module);
        if (!done) {
            return located_error(step.loc, done.error().message);
        }
        drain();
        return true;
    }
    if (const auto* ftrace = std::get_if<FtraceAction>(&step.action)) {
        if (auto r = m_backend.ftrace(*ftrace); !r.ok()) {
            return located_error(step.loc, r.error().message);
        }
        drain();
        return true;
    }
    if (std::holds_alternative<ShellAction>(step.action)) {
        // The livepatch shell (scenarios/livepatch_feature.h).
        if (auto done = m_backend.feature_action(step.action); !done) {
            return located_error(step.loc, done.error().message);
        }
        drain();
        return true;
    }
    const auto& log = std::get<LogAction>(step.action);
    transcript.event(log.text, LineKind::KernelLog); // As `echo TEXT > /dev/kmsg`.
    record.log.push_back(log.text);
    return true;
}

Result<void> Play::play() {
    // Explicit [machine] keys that mix kernels (emu/kernel_era.h): said before anything runs.
    for (const auto& warning : m_s.machine.era_warnings) {
        transcript.event(fmt::format("warning: {}", warning));
    }
    for (const auto& object : m_s.objects) {
        KLP_TRY(m_backend.load_object(object));
    }
    for (const auto& task : m_s.tasks) {
        if (!m_backend.symbol_address(task.entry)) {
            return located_error(task.loc, fmt::format("task '{}': entry symbol '{}' is not "
                                                       "defined by any loaded object",
                                                       task.name, task.entry));
        }
        auto args = resolve_args(task.args, task.loc, fmt::format("task '{}'", task.name));
        KLP_TRY(args);
        KLP_TRY(m_backend.start_task(task, *args));
    }
    drain();
    for (size_t i = 0; i < m_s.steps.size(); ++i) {
        const auto& step = m_s.steps[i];
        if (m_before_step) {
            m_before_step(i);
        }
        // The step line comes first: running the machine until the trigger fires is part of
        // what the step caused.
        if (const std::string line = m_backend.expand_shell_line(step_line(step));
            !line.empty()) {
            transcript.action(line,
                              logged_by_selftests(step) ? LineKind::ShellLog : LineKind::Action);
        }
        auto fired = fire_trigger(step);
        KLP_TRY(fired);
        if (*fired) {
            auto go_on = perform(step);
            KLP_TRY(go_on);
            fired = *go_on;
        }
        if (!*fired) {
            if (m_budget_gone && i + 1 < m_s.steps.size()) {
                transcript.event(fmt::format("(instruction budget exhausted: {} step(s) not run)",
                                             m_s.steps.size() - i - 1));
            }
            break;
        }
    }
    drain();
    return {};
}

std::string display_name(const std::filesystem::path& p) { return p.lexically_normal().string(); }

} // namespace

ScenarioResult Runner::run_file(const std::filesystem::path& file, const RunOptions& options) const {
    auto scenario = parse_scenario_file(file, ParseOptions{options.kernel});
    if (!scenario) {
        ScenarioResult r;
        r.name = file.stem().string();
        r.file = display_name(file);
        r.status = Status::Error;
        r.message = scenario.error().message;
        return r;
    }
    if (!options.ftrace_source.empty()) {
        scenario->machine.ftrace_source =
            std::filesystem::absolute(options.ftrace_source).lexically_normal();
    }
    if (!options.cycles.empty()) {
        scenario->machine.cycles = options.cycles;
    }
    return run(*scenario, options);
}

ScenarioResult Runner::run(const Scenario& scenario, const RunOptions& options) const {
    ScenarioResult r;
    r.name = scenario.name;
    r.file = display_name(scenario.file);
    r.kernel = scenario.machine.kernel;
    r.golden_file = display_name(golden_path(scenario.file));

    for (const auto& wanted : scenario.requires_features) {
        for (const auto& f : known_features()) {
            if (f.name == wanted && !f.built) {
                r.status = Status::Skip;
                r.message =
                    f.absent_on_arm64.empty()
                        ? fmt::format("requires '{}' ({}), not built yet", f.name, f.summary)
                        : fmt::format("requires '{}': {}", f.name, f.absent_on_arm64);
                return r;
            }
        }
    }

    ChromeTraceProcess* trace = options.trace ? &options.trace->add_process(scenario.name) : nullptr;
    auto backend = m_factory(scenario, trace);
    if (!backend) {
        r.status = Status::Error;
        r.message = backend.error().message;
        return r;
    }
    Play play(scenario, **backend, trace, m_before_step);
    auto played = play.play();
    (*backend)->finish();
    play.record.instructions = (*backend)->executed_instructions();
    play.record.cycles = (*backend)->cycles();
    r.instructions = play.record.instructions;
    r.cycles = play.record.cycles;
    r.findings = play.record.findings;
    r.transcript = play.transcript.str();
    r.kselftest_view = kselftest_view(play.transcript);
    r.unwind = (*backend)->unwind_report();
    if (!played) {
        r.status = Status::Error;
        r.message = played.error().message;
        return r;
    }
    const bool runs_something =
        !scenario.tasks.empty() || !scenario.steps.empty() ||
        std::any_of(scenario.expectations.begin(), scenario.expectations.end(),
                    [](const Expectation& e) { return e.kind == ExpectKind::Returns; });
    if (!runs_something) {
        // Checked after loading, so bad objects are reported first. An empty transcript
        // would pass (and --update would bless it) while checking nothing.
        r.status = Status::Error;
        r.message = located_error(SourceLoc{r.file, 1, 1},
                                  "nothing to run: add a [[task]], a [[step]] or an [[expect]] "
                                  "with 'returns'")
                        .message;
        return r;
    }

    const auto& backend_ref = **backend;
    r.expectations = evaluate_all(scenario.expectations, play.record,
                                  [&](std::string_view name) { return backend_ref.symbol_address(name); });
    bool failed = !play.problem.empty();
    r.message = play.problem;
    for (const auto& e : r.expectations) {
        failed = failed || !e.passed;
    }

    const auto golden = golden_path(scenario.file);
    if (options.update_golden) {
        auto written = write_golden(golden, r.transcript);
        if (!written) {
            r.status = Status::Error;
            r.message = written.error().message;
            return r;
        }
        r.golden_updated = true;
    } else if (!options.ftrace_source.empty() || !options.kernel.empty()) {
        // The goldens record the bundled trampoline's transcript on the scenario's own era (its
        // PCs, its cycles); another trampoline or era is judged by the expectations alone.
        r.golden_file.clear();
    } else {
        auto expected = read_golden(golden);
        if (!expected) {
            r.status = Status::Error;
            r.message = expected.error().message;
            return r;
        }
        if (!expected->has_value()) {
            failed = true;
            r.diff = unified_diff("", r.transcript, r.golden_file + " (missing)", "transcript");
            if (r.message.empty()) {
                r.message = fmt::format("no golden transcript {}; `klpemu run --update {}` "
                                        "writes it",
                                        r.golden_file, r.file);
            }
        } else {
            r.diff = unified_diff(**expected, r.transcript, r.golden_file, "transcript");
            if (!r.diff.empty()) {
                failed = true;
                if (r.message.empty()) {
                    r.message = fmt::format("transcript differs from {}", r.golden_file);
                }
            }
        }
    }
    r.status = failed ? Status::Fail : Status::Pass;
    return r;
}

} // namespace klpemu::scenario
