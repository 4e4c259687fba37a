// Function spans and CPU occupancy for the Chrome trace (see call_trace.h).
#include "scenarios/call_trace.h"

namespace klpemu::scenario {

namespace {

// A64 encodings (Arm ARM C6.2): BL imm26, BLR Xn, RET {Xn}.
constexpr bool is_bl(uint32_t w) { return (w & 0xfc000000u) == 0x94000000u; }  // bl label
constexpr bool is_blr(uint32_t w) { return (w & 0xfffffc1fu) == 0xd63f0000u; } // blr xN
constexpr bool is_ret(uint32_t w) { return (w & 0xfffffc1fu) == 0xd65f0000u; } // ret xN

int64_t bl_offset(uint32_t w) {
    const int64_t imm26 = int64_t(w & 0x03ffffffu);
    return ((imm26 ^ 0x02000000) - 0x02000000) * 4;
}

} // namespace

CallTrace::CallTrace(emu::Machine& machine, ChromeTraceProcess& process)
    : m_machine(machine), m_process(process), m_pending(size_t(machine.cpu_count())),
      m_running(size_t(machine.cpu_count())) {
    for (int cpu = 0; cpu < machine.cpu_count(); ++cpu) {
        m_process.cpu_track(cpu);
    }
}

CallSpanTracker& CallTrace::tracker(int task) {
    auto& t = m_trackers[task];
    if (!t) {
        const int tid = m_process.task_track(m_machine.task(task).name);
        t = std::make_unique<CallSpanTracker>(m_process, tid);
    }
    return *t;
}

void CallTrace::on_instruction(const emu::InsnEvent& e) {
    auto& pending = m_pending[size_t(e.cpu)];
    if (pending.kind != Pending::Kind::None && pending.task == e.task) {
        if (pending.kind == Pending::Kind::Call) {
            tracker(e.task).call(m_machine.symbolize(e.pc).base, pending.return_addr, e.instruction);
        } else {
            tracker(e.task).ret(e.pc.value, e.instruction);
        }
    }
    pending.kind = Pending::Kind::None;
    const uint32_t w = e.word.raw;
    if (is_bl(w)) {
        const GuestAddr target = e.pc + bl_offset(w);
        tracker(e.task).call(m_machine.symbolize(target).base, (e.pc + 4).value, e.instruction + 1);
    } else if (is_blr(w)) {
        pending = Pending{Pending::Kind::Call, (e.pc + 4).value, e.task};
    } else if (is_ret(w)) {
        pending = Pending{Pending::Kind::Ret, 0, e.task};
    }
}

void CallTrace::on_task_switch(int cpu, int /*from*/, int to) {
    const uint64_t now = m_machine.instructions();
    auto& running = m_running[size_t(cpu)];
    if (running && running->first != to) {
        m_process.complete(cpu, m_machine.task(running->first).name, "task", running->second, now);
    }
    if (!running || running->first != to) {
        running = std::pair{to, now};
    }
    m_pending[size_t(cpu)].kind = Pending::Kind::None;
}

void CallTrace::finish() {
    const uint64_t now = m_machine.instructions();
    for (auto& [task, t] : m_trackers) {
        t->finish(now);
    }
    for (size_t cpu = 0; cpu < m_running.size(); ++cpu) {
        if (m_running[cpu]) {
            m_process.complete(int(cpu), m_machine.task(m_running[cpu]->first).name, "task",
                               m_running[cpu]->second, now);
            m_running[cpu].reset();
        }
    }
}

} // namespace klpemu::scenario
