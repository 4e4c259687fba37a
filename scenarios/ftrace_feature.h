// The ftrace feature of the machine backend (machine_feature.h): patcher::Ftrace attached to a
// scenario's machine with the [machine] trampoline variant, every kernel object's call sites
// initialised at load, `ftrace enable|disable FILTER [tracer=...]` actions, and the
// stacktrace tracer (an ftrace ops whose callback logs stack_trace_save() as the scenario's
// unwinder policy sees it). Text writes and trace lines come back as transcript events.
#pragma once

#include "patcher/ftrace.h"
#include "scenarios/machine_feature.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace klpemu::scenario {

class FtraceFeature final : public MachineFeature {
  public:
    // A scenario gets ftrace when it asks for it or uses an ftrace action.
    static FeatureKind kind();

    FtraceFeature(FeatureHost& host, std::unique_ptr<patcher::Ftrace> ftrace)
        : m_host(host), m_ftrace(std::move(ftrace)) {}

    patcher::Ftrace& ftrace() { return *m_ftrace; }
    void describe(DebugAccess& access) override { access.ftrace = m_ftrace.get(); }

    Result<void> kernel_object_loaded(const LoadedObject& object) override;
    std::optional<Result<void>> handle(const Action& action) override;
    bool take_events(std::vector<BackendEvent>& out) override;

  private:
    // The stacktrace tracer: logs the current task's trace as the scenario's policy sees it
    // from inside the ftrace callback (stack_trace_save() called by a tracer).
    void log_stack_trace(patcher::FtraceCall& call);
    // The save_regs tracer: an ops with FTRACE_OPS_FL_SAVE_REGS, as a module's own ftrace_ops
    // (or kprobes on ftrace) asks for; logs the pt_regs it was handed.
    void log_saved_regs(patcher::FtraceCall& call);

    FeatureHost& m_host;
    std::unique_ptr<patcher::Ftrace> m_ftrace;
    // The stacktrace and save_regs tracers' ops: filter, ops.
    std::vector<std::pair<std::string, patcher::OpsId>> m_callback_ops;
    std::vector<std::pair<std::string, patcher::OpsId>> m_direct_ops;     // Filter, ops.
    Result<void> direct_action(const FtraceAction& action);
    Result<void> perform(const FtraceAction& action);
};

} // namespace klpemu::scenario
