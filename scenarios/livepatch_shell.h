// The livepatch feature of a scenario run: klpemu's livepatch engine
// (patcher/livepatch/livepatch.h) attached to the machine, the stack oracle it consults
// (the scenario's unwinder policy through unwinder::TaskWalker for
// stack_trace_save_tsk_reliable, the ground-truth shadow stack through a truth-only
// unwinder::MachineChecker), and the shell vocabulary of the kernel's livepatch selftests
// (insmod, rmmod, echo > sysfs, cat, sysctl, wait transition) with the lines they log.
//
// Host operations that run guest code (a sysfs write calling callbacks, the delayed transition
// work, module notifiers, module_init/exit) run on a fresh kthread through ShellHost::call_at,
// as the kernel runs them in the writing process or a kworker.
#pragma once

#include "emu/cfi_table.h"
#include "emu/machine.h"
#include "patcher/ftrace.h"
#include "patcher/livepatch/livepatch.h"
#include "scenarios/backend.h"
#include "scenarios/scenario_file.h"
#include "scenarios/unwind_report.h"
#include "unwinder/unwinder.h"

#include <memory>
#include <string>
#include <vector>

namespace klpemu::scenario {

// What the shell needs of the backend it lives in.
class ShellHost {
  public:
    virtual ~ShellHost() = default;
    // Places and links the deferred module object NAME (no init); error if unknown.
    virtual Result<void> place_module(std::string_view name) = 0;
    // Forgets a loaded module (its memory stays mapped).
    virtual Result<void> unload_module(std::string_view name) = 0;
    // Frees a module's init memory (do_init_module's end).
    virtual Result<void> free_module_init(std::string_view name) = 0;
    // Runs fn(args) on a fresh task (a kthread, or a user task making it its syscall).
    virtual Result<CallOutcome> call_task(GuestAddr fn, std::string_view name,
                                          std::span<const uint64_t> args, bool user) = 0;
    // Runs the machine for `instructions` (servicing the engine's delayed work).
    virtual Result<RunStop> run_for(uint64_t instructions) = 0;
    // A kernel log line.
    virtual void note(std::string line) = 0;
    // A line the shell command printed (cat's output, the shell's error messages).
    virtual void output(std::string line) = 0;
};

class LivepatchShell final : public patcher::livepatch::TaskStacks {
  public:
    // Attaches the engine to `machine`; `policy` is the scenario's unwinder policy.
    // `observed`: more policies whose decisions at every stack check are recorded
    // (transition_verdict) but never acted on (`klpemu run --policies`).
    static Result<std::unique_ptr<LivepatchShell>>
    create(emu::Machine& machine, patcher::Ftrace& ftrace, std::string policy,
           const std::vector<std::string>& observed = {});
    ~LivepatchShell() override;

    patcher::livepatch::Livepatch& engine() { return *m_engine; }
    // After objects were loaded (CFI, symbols) and tasks created.
    void objects_loaded();
    // Gives the walker and the truth every task's graph return stack (the function-graph
    // tracer's hijacked returns are recovered from it, as kunwind does).
    void wire_graph_stacks();
    void kernel_object_loaded(std::string name) { m_engine->add_kernel_object(std::move(name)); }

    // One shell action; the lines it prints go through ShellHost::note.
    Result<RunStop> run(ShellHost& host, const ShellAction& action);
    // The delayed transition work, if due: runs it on a kworker kthread. True if it ran.
    Result<bool> service(ShellHost& host);

    // TaskStacks.
    emu::StackWalkResult save_task_reliable(int task) override;
    std::optional<std::vector<GuestAddr>> true_stack(int task) override;
    std::string policy() const override { return m_policy; }

    // What `policy` decided (or would have) at every stack check so far; nullopt if the policy
    // was neither the scenario's nor observed, or no transition asked.
    std::optional<TransitionVerdict> transition_verdict(std::string_view policy) const;

  private:
    LivepatchShell(emu::Machine& machine, std::string policy);
    Result<RunStop> insmod(ShellHost& host, const ShellAction& action);
    Result<RunStop> rmmod(ShellHost& host, const ShellAction& action);
    Result<RunStop> echo(ShellHost& host, const ShellAction& action);
    Result<RunStop> cat(ShellHost& host, const ShellAction& action);
    Result<RunStop> wait(ShellHost& host, const ShellAction& action);
    Result<int64_t> host_op(ShellHost& host, patcher::livepatch::HostOp op, uint64_t a = 0,
                            uint64_t b = 0);
    Result<void> set_params(const ShellAction& action);
    Result<void> set_array_param(const std::string& module, const std::string& name,
                                 GuestAddr array, const std::string& value);
    Result<std::string> read_kobj_file(ShellHost& host,
                                       const patcher::livepatch::SysfsTree::File& file);
    Result<RunStop> kmsg(ShellHost& host, std::string text);
    Result<void> write_param(const std::string& module, const std::string& name,
                             const std::string& value, std::string_view who);

    emu::Machine& m_machine;
    std::string m_policy;
    CfiTable m_cfi;
    size_t m_cfi_sections = 0;
    std::unique_ptr<patcher::livepatch::Livepatch> m_engine;
    std::unique_ptr<unwinder::MachineChecker> m_truth;
    std::unique_ptr<unwinder::TaskWalker> m_walker;
    patcher::Ftrace* m_ftrace = nullptr; // Its graph return stacks, for the walker and the truth.
    int m_graph_wired = 0;               // Tasks [0, m_graph_wired) have theirs set.
    // Every policy whose decisions are recorded (the scenario's first), with its walker.
    struct Judged {
        std::string policy;
        std::unique_ptr<unwinder::TaskWalker> walker;
        TransitionVerdict verdict;
    };
    std::vector<Judged> m_judged;
    // Records every judged policy's decision for `task` (its stack asked for by the transition).
    void judge_policies(int task);
    void judge(TransitionVerdict& verdict, const emu::StackWalkResult& trace, int task);
    TransitionVerdict m_own; // The scenario's policy, the one the transition acts on.
    bool m_in_work = false;
};

// "Device or resource busy" for 16, ... (strerror of a positive errno).
std::string errno_text(int64_t err);

} // namespace klpemu::scenario
