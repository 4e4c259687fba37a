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
    static Result<std::unique_ptr<LivepatchShell>>
    create(emu::Machine& machine, patcher::Ftrace& ftrace, std::string policy);
    ~LivepatchShell() override;

    patcher::livepatch::Livepatch& engine() { return *m_engine; }
    // After objects were loaded (CFI, symbols) and tasks created.
    void objects_loaded();
    void kernel_object_loaded(std::string name) { m_engine->add_kernel_object(std::move(name)); }

    // One shell action; the lines it prints go through ShellHost::note.
    Result<RunStop> run(ShellHost& host, const ShellAction& action);
    // The delayed transition work, if due: runs it on a kworker kthread. True if it ran.
    Result<bool> service(ShellHost& host);

    // TaskStacks.
    emu::StackWalkResult save_task_reliable(int task) override;
    std::optional<std::vector<GuestAddr>> true_stack(int task) override;
    std::string policy() const override { return m_policy; }

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
    Result<void> write_param(const std::string& module, const std::string& name,
                             const std::string& value, std::string_view who);

    emu::Machine& m_machine;
    std::string m_policy;
    CfiTable m_cfi;
    size_t m_cfi_sections = 0;
    std::unique_ptr<patcher::livepatch::Livepatch> m_engine;
    std::unique_ptr<unwinder::MachineChecker> m_truth;
    std::unique_ptr<unwinder::TaskWalker> m_walker;
    bool m_in_work = false;
};

// "Device or resource busy" for 16, ... (strerror of a positive errno).
std::string errno_text(int64_t err);

} // namespace klpemu::scenario
