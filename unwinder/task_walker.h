// Answers the stack-walk request (emu/stack_walk.h) for a machine's tasks with one unwinder
// policy, as arch_stack_walk_reliable() answers livepatch: a task running on a CPU is refused
// (the kernel's task_call_func() gives -EBUSY); a sleeping task is walked from its saved
// context, thread_saved_pc/fp (cpu_context.pc and .fp, which the machine keeps in
// Task::saved):
//
//   saved.pc  -> the instruction after the switch inside schedule()
//   saved.fp  -> schedule()'s frame record {caller fp, return into the caller}
#pragma once

#include "emu/machine.h"
#include "emu/stack_walk.h"
#include "unwinder/machine_checker.h"
#include "unwinder/unwind_policy.h"

#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace klpemu::unwinder {

class TaskWalker final : public emu::StackWalker {
  public:
    // `machine` must outlive the walker; `cfi` may be null. Contract: `policy` is a known name.
    TaskWalker(const emu::Machine& machine, std::string_view policy, const CfiTable* cfi);

    // The graph tracer's return stack of `task` (the patcher implements GraphReturnStack).
    void set_graph_stack(int task, const GraphReturnStack* graph) { m_graph[task] = graph; }

    emu::StackWalkResult save_task_reliable(int task) const override;
    // The full policy result for a sleeping task (unreliable with a reason if it runs).
    UnwindResult unwind_task(int task) const;

  private:
    const emu::Machine& m_machine;
    MachineMemory m_memory;
    std::unique_ptr<UnwindPolicy> m_policy;
    const CfiTable* m_cfi;
    std::optional<GuestAddr> m_return_to_handler;
    std::unordered_map<int, const GraphReturnStack*> m_graph;
    mutable std::vector<GuestAddr> m_bottoms; // Filled at the first walk (after boot).
};

} // namespace klpemu::unwinder
