// The runner's view of the emulated machine. The runner owns the timeline (triggers, actions,
// transcript, expectations); a Backend loads objects, starts tasks, runs guest code and reports
// what happened as events. The real backend sits on emu/machine.h (machine_backend.h); tests
// use a scripted fake, which is why this is an interface and not the machine itself.
#pragma once

#include "emu/finding.h"
#include "emu/result.h"
#include "scenarios/debug_access.h"
#include "scenarios/scenario_file.h"
#include "scenarios/unwind_report.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::scenario {

class ChromeTraceProcess;

// Something the machine did that a transcript may report.
struct BackendEvent {
    enum class Kind {
        Log,     // A printk-style line written by guest code or by the patch engine.
        Output,  // What a shell command printed (not the kernel log): cat's output, errors.
        Trace,   // A tracer's line (the ftrace buffer, not the kernel log).
        Task,    // A task event worth reporting (started, exited, preempted, resumed).
        Irq,     // Interrupt entry/exit.
        Patch,   // A text write (patch site, PLT), symbolized.
        Finding, // An analysis result.
    };
    Kind kind = Kind::Log;
    std::string text;    // The transcript line (not used for Finding).
    Finding finding;     // Kind::Finding only.
    uint64_t instruction = 0;
    int cpu = -1;        // The CPU it happened on, if known (places trace instants).
    std::string task;    // The task it happened in, if any.
};

// An event that is one transcript line.
inline BackendEvent line_event(BackendEvent::Kind kind, std::string text, uint64_t instruction) {
    BackendEvent e;
    e.kind = kind;
    e.text = std::move(text);
    e.instruction = instruction;
    return e;
}

// Why a run request returned.
enum class RunStop {
    Done,            // Ran the requested instructions, or reached the requested point.
    BudgetExhausted, // The [machine] budget ran out (the backend also reports a finding).
    Idle,            // Nothing left to run: every task has exited.
};

// The end of a `call`: its x0 when stop is Done; otherwise why it did not return.
struct CallOutcome {
    RunStop stop = RunStop::Done;
    uint64_t value = 0;
};

class Backend {
  public:
    virtual ~Backend() = default;

    // Assembles/compiles and loads one object. Errors are located (file:line:col).
    virtual Result<void> load_object(const ObjectSpec& object) = 0;
    // Creates a task; its entry symbol must exist. Errors point at task.loc.
    virtual Result<void> start_task(const TaskSpec& task, std::span<const uint64_t> args) = 0;
    // The address of a global symbol of any loaded object.
    virtual std::optional<uint64_t> symbol_address(std::string_view name) const = 0;

    // Runs all CPUs for `instructions` more instructions (the one global clock).
    virtual Result<RunStop> run_for(uint64_t instructions) = 0;
    // Runs until a task (any task if reach.task is empty) is about to execute reach.symbol.
    virtual Result<RunStop> run_until(const ReachPoint& reach) = 0;
    // Injects an interrupt on `cpu` now.
    virtual Result<void> inject_irq(int cpu) = 0;
    // Runs function(args) on a fresh kthread until it returns (other tasks run meanwhile); the
    // kthread goes to the lowest CPU without a live task, else CPU 0.
    virtual Result<CallOutcome> call(std::string_view function, std::span<const uint64_t> args) = 0;

    // `module load NAME` / `module unload NAME` for a deferred [[object]]: loads (placement,
    // PLTs, init run, init freed) or unloads it; what happened comes back as events.
    virtual Result<void> module_action(const ModuleAction& action) {
        return make_error("module {} {}: not supported by this backend",
                          action.load ? "load" : "unload", action.name);
    }
    // Scenario action `ftrace enable|disable FILTER` (patcher::Ftrace::apply_action).
    virtual Result<void> ftrace(const FtraceAction& /*action*/) {
        return make_error("ftrace is not available in this backend");
    }

    // Any other action a backend feature takes (machine_feature.h): the runner forwards actions
    // it does not itself interpret.
    virtual Result<void> feature_action(const Action& /*action*/) {
        return make_error("this action is not supported by this backend");
    }

    // Events since the previous call, in order.
    virtual std::vector<BackendEvent> take_events() = 0;
    virtual uint64_t instructions() const = 0;
    // Of instructions(), those executed: the clock also runs while every CPU idles.
    virtual uint64_t executed_instructions() const { return instructions(); }
    virtual uint64_t cycles() const = 0;
    // Called once after the timeline: close open trace spans and the like.
    virtual void finish() {}
    // What the reliability checker saw, if one ran (after finish()).
    virtual std::optional<UnwindReport> unwind_report() const { return std::nullopt; }
    // A shell step's line with the shell variables the backend knows expanded ($USER_PIDS:
    // scenarios/shell_pids.h); unchanged by default.
    virtual std::string expand_shell_line(std::string line) const { return line; }
    // The parts the step debugger inspects (scenarios/debug_access.h); empty by default.
    virtual DebugAccess debug_access() { return {}; }
};

// Creates a backend for one scenario; `trace` (may be null) receives spans and instants.
using BackendFactory = std::function<Result<std::unique_ptr<Backend>>(
    const Scenario& scenario, ChromeTraceProcess* trace)>;

} // namespace klpemu::scenario
