// The stack-walk request (design.md §1): livepatch's consistency model asks the architecture
// for a reliable trace of a task that is not running (stack_trace_save_tsk_reliable(), called
// from klp_check_stack()), and the patcher must not include the unwinder that answers it. emu
// declares the question; unwinder/task_walker.h answers it with the scenario's policy; the
// scenario runner hands the answerer to the patcher.
#pragma once

#include "emu/guest_addr.h"

#include <string>
#include <vector>

namespace klpemu::emu {

struct StackWalkResult {
    bool reliable = false;
    std::string reason;             // Why not (or how the walk ended).
    std::vector<GuestAddr> entries; // The saved pc, then each return address, innermost first.
};

class StackWalker {
  public:
    virtual ~StackWalker() = default;
    // stack_trace_save_tsk_reliable(task): never reliable for a task running on a CPU.
    virtual StackWalkResult save_task_reliable(int task) const = 0;
};

} // namespace klpemu::emu
