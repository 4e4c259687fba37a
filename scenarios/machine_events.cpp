// Ordered transcript events from the machine (see machine_events.h).
#include "scenarios/machine_events.h"

#include "scenarios/guest_value.h"

#include <fmt/format.h>

namespace klpemu::scenario {


void MachineEvents::set_quiet(int id) {
    if (m_quiet.size() <= size_t(id)) {
        m_quiet.resize(size_t(id) + 1, false);
    }
    m_quiet[size_t(id)] = true;
}

bool MachineEvents::is_reportable(int id) const {
    const bool quiet = size_t(id) < m_quiet.size() && m_quiet[size_t(id)];
    return !quiet && m_machine.task(id).kind != emu::TaskKind::Idle;
}

void MachineEvents::push(BackendEvent::Kind kind, std::string text) {
    m_events.push_back(line_event(kind, std::move(text), m_machine.instructions()));
}

void MachineEvents::sync() {
    const auto& log = m_machine.log();
    for (; m_log_seen < log.size(); ++m_log_seen) {
        push(BackendEvent::Kind::Log, log[m_log_seen]);
    }
    const auto& findings = m_machine.findings();
    for (; m_findings_seen < findings.size(); ++m_findings_seen) {
        BackendEvent e;
        e.kind = BackendEvent::Kind::Finding;
        e.finding = findings[m_findings_seen];
        e.instruction = e.finding.instruction;
        m_events.push_back(std::move(e));
    }
}

void MachineEvents::report_exits() {
    for (int id = 0; id < m_machine.task_count(); ++id) {
        const auto& t = m_machine.task(id);
        if (!t.finished() || (size_t(id) < m_exited.size() && m_exited[size_t(id)])) {
            continue;
        }
        if (m_exited.size() <= size_t(id)) {
            m_exited.resize(size_t(id) + 1, false);
        }
        m_exited[size_t(id)] = true;
        if (!is_reportable(id)) {
            continue;
        }
        if (t.state == emu::TaskState::Killed) {
            push(BackendEvent::Kind::Task, fmt::format("{} killed", t.name));
        } else {
            push(BackendEvent::Kind::Task,
                 fmt::format("{} exited: {}", t.name, format_guest_value(t.exit_value)));
        }
    }
}

std::vector<BackendEvent> MachineEvents::take() {
    sync();
    report_exits();
    return std::exchange(m_events, {});
}

void MachineEvents::on_task_switch(int cpu, int /*from*/, int to) {
    sync();
    report_exits();
    if (m_started.size() <= size_t(to)) {
        m_started.resize(size_t(to) + 1, false);
    }
    if (!m_started[size_t(to)]) {
        m_started[size_t(to)] = true;
        if (is_reportable(to)) {
            push(BackendEvent::Kind::Task,
                 fmt::format("cpu{}: {} starts", cpu, m_machine.task(to).name));
        }
    }
    if (m_wait_task && m_machine.task(*m_wait_task).finished()) {
        m_machine.request_stop();
    }
}

void MachineEvents::on_exception_entry(int cpu, int task, emu::ExceptionKind kind, GuestAddr pc) {
    sync();
    if (kind != emu::ExceptionKind::Irq) {
        return;
    }
    push(BackendEvent::Kind::Irq, fmt::format("cpu{}: irq interrupts {} at {}", cpu,
                                              m_machine.task(task).name,
                                              m_machine.symbolize(pc).str()));
}

void MachineEvents::on_exception_return(int cpu, int task, emu::ExceptionKind kind, GuestAddr pc) {
    sync();
    if (kind != emu::ExceptionKind::Irq) {
        return;
    }
    push(BackendEvent::Kind::Irq, fmt::format("cpu{}: irq returns to {} at {}", cpu,
                                              m_machine.task(task).name,
                                              m_machine.symbolize(pc).str()));
}

void MachineEvents::on_host_call(int /*cpu*/, int /*task*/, uint32_t /*number*/) { sync(); }

} // namespace klpemu::scenario
