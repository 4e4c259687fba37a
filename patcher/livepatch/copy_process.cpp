// klp_copy_process (kernel/livepatch/transition.c, called from copy_process during fork): a
// task created while a transition is in progress gets its parent's patch_state and
// TIF_PATCH_PENDING. klp_start_transition only flagged the tasks that existed then, so without
// this a child would start outside the transition (KLP_TRANSITION_IDLE, which
// klp_ftrace_handler warns about and treats as the newest version) and could run the new code
// while its parent, mid-syscall or mid-loop, still runs the old.
//
// Who the parent is: a task that forks in the guest (kernel_thread, scenarios' kernel
// services) is the parent. Tasks made by klpemu's host have a parent klpemu does not run:
// kthread_run's kthreads are children of kthreadd, `cat` is the shell's child. Both sleep with
// nothing patched on their stacks, so they take part in the transition like any such task:
// initial state at klp_init_transition, TIF_PATCH_PENDING at klp_start_transition, switched by
// the first klp_try_complete_transition (and by force), cleared at completion (m_fork_parent).
#include "patcher/livepatch/livepatch.h"

namespace klpemu::patcher::livepatch {

void Livepatch::on_task_created(int task, int parent) {
    emu::Task& child = m_machine.task(task);
    if (parent >= 0) {
        const emu::Task& p = m_machine.task(parent);
        child.patch_state = p.patch_state;
        child.tif_patch_pending = p.tif_patch_pending;
        return;
    }
    child.patch_state = m_fork_parent.patch_state;
    child.tif_patch_pending = m_fork_parent.tif_patch_pending;
}

} // namespace klpemu::patcher::livepatch
