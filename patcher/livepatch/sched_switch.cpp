// __schedule's livepatch switch point, v6.16+ (676e8cf70cb0, "sched,livepatch: Untangle
// cond_resched() and live-patching"; reference livepatch/transition.md §3): while a
// transition is in progress (klp_sched_try_switch_key, enabled by klp_start_transition and
// disabled at completion), a task that enters __schedule with TASK_FREEZABLE in its __state
// and TIF_PATCH_PENDING tries to switch itself with klp_try_switch_task(current): the stack
// check on its own stack. Before v6.16 the same try happened in cond_resched(); arm64 has
// livepatch only since v6.17, so klpemu models the __schedule form. cond_resched() runs with
// TASK_RUNNING and no longer switches.
//
// This is how a kthread that sleeps freezably with a timeout on a CPU of its own switches:
// klpemu's timed sleeps yield in schedule() (emu::Task::timer_at), so such a task is always the
// CPU's current and the periodic attempt finds it running (-EBUSY).
#include "emu/host_call.h"
#include "patcher/livepatch/livepatch.h"

namespace klpemu::patcher::livepatch {

namespace {
constexpr uint32_t kTaskFreezable = 0x2000; // TASK_FREEZABLE (v6.1+)
} // namespace

void Livepatch::on_host_call(int /*cpu*/, int task, uint32_t number) {
    if (number != emu::hc::kSchedule || task < 0 || !m_sched_try_switch_key ||
        !m_transition_patch) {
        return;
    }
    emu::Task& current = m_machine.task(task);
    if (!(current.sleep_state & kTaskFreezable) || !current.tif_patch_pending) {
        return;
    }
    const int previous = m_current_task;
    m_current_task = task;
    try_switch_task(current);
    m_current_task = previous;
    if (!m_in_try_round && !m_try_round.empty()) {
        transition_event(m_try_round.back() + " (__schedule)");
        m_try_round.clear();
    }
}

} // namespace klpemu::patcher::livepatch
