// Host services of klpemu's guest mini kernel that guest code cannot do by itself: starting a
// kthread (kthread_run, for the workqueue's kworkers), reading jiffies (for msleep) and
// schedule_timeout's timer, all on the instruction clock of docs/livepatch.md ("Time"). The guest
// side is scenarios/livepatch/kselftest/kernel/workqueue.c; the host calls are in the scenarios
// range:
//   0x220 kthread_run: x0 = fn(long), x1 = its argument; the kthread starts on the caller's CPU
//         (queue_work on the local CPU's pool); returns its task id, or -ENOMEM.
//   0x221 jiffies: the clock in jiffies, kJiffiesPerSecond (HZ) per simulated second.
//   0x222 kernel_thread: x0 = fn, x1 = its argument, x2 = the name (a guest string); the
//         calling task forks a kthread on its CPU (fork.c); returns its task id, or -ENOMEM.
//   0x223 sleep_until: x0 = a time in jiffies; schedule_timeout's timer for the calling task.
//         Returns 1 while the sleep goes on (the timer is armed, so schedule() yields), 0 once
//         it is over: the time has come (process_timeout: the task is TASK_RUNNING again) or
//         the task was woken (wake_up: already TASK_RUNNING); the timer is then disarmed.
// kthread_run's kthreads are kthreadd's children (no task klpemu runs), kernel_thread's the
// caller's: the livepatch engine gives a child its parent's patch state (klp_copy_process).
// A kthread made inside a host call is announced to the scenario's features (the unwinder's
// ground truth, ...) before it runs: the call asks the machine to stop, and the owner calls
// take_new_tasks() when it handles the stop.
#pragma once

#include "emu/machine.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace klpemu::scenario {

class KernelServices {
  public:
    static constexpr uint16_t kKthreadRun = 0x220;
    static constexpr uint16_t kJiffies = 0x221;
    static constexpr uint16_t kKernelThread = 0x222;
    static constexpr uint16_t kSleepUntil = 0x223;
    static constexpr uint64_t kJiffiesPerSecond = 100; // HZ

    // Registers the host calls on `machine`; one simulated second is `instructions_per_second`.
    KernelServices(emu::Machine& machine, uint64_t instructions_per_second);

    // True once after host calls created tasks the features have not been told about.
    bool take_new_tasks() { return std::exchange(m_new_tasks, false); }

  private:
    std::optional<std::string> guest_name(uint64_t addr) const;
    // The clock in jiffies (0x221).
    uint64_t jiffies() const;

    emu::Machine& m_machine;
    uint64_t m_instructions_per_second;
    int m_workers = 0;
    bool m_new_tasks = false;
};

} // namespace klpemu::scenario
