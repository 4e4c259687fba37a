// Turns what the machine does into transcript events, in the order it happened. The machine
// keeps its log lines and findings in lists; this observer merges them with the events only an
// observer sees (a task's first run, its exit, IRQ entry and return) by pulling the lists at
// every callback, so a printk line and the IRQ that follows it appear in that order.
#pragma once

#include "emu/machine.h"
#include "scenarios/backend.h"

#include <optional>
#include <vector>

namespace klpemu::scenario {

class MachineEvents : public emu::ExecutionObserver {
  public:
    explicit MachineEvents(emu::Machine& machine) : m_machine(machine) {}

    // Asks the machine to stop as soon as task `id` has finished (for `call`); nullopt: never.
    void stop_when_finished(std::optional<int> id) { m_wait_task = id; }
    // Tasks whose start and exit are not reported (the temporary kthreads of `call`).
    void set_quiet(int id);

    // Pulls new log lines and findings, then returns every event since the last call.
    std::vector<BackendEvent> take();

    void on_task_switch(int cpu, int from, int to) override;
    void on_exception_entry(int cpu, int task, emu::ExceptionKind kind, GuestAddr pc) override;
    void on_exception_return(int cpu, int task, emu::ExceptionKind kind, GuestAddr pc) override;
    void on_host_call(int cpu, int task, uint32_t number) override;

  private:
    void sync();
    void report_exits();
    bool is_reportable(int id) const;
    void push(BackendEvent::Kind kind, std::string text);

    emu::Machine& m_machine;
    std::optional<int> m_wait_task;
    std::vector<bool> m_quiet;
    std::vector<bool> m_started;
    std::vector<bool> m_exited;
    size_t m_log_seen = 0;
    size_t m_findings_seen = 0;
    std::vector<BackendEvent> m_events;
};

} // namespace klpemu::scenario
