// See kernel_services.h.
#include "scenarios/kernel_services.h"

#include <fmt/format.h>

namespace klpemu::scenario {

namespace {
constexpr int64_t kENOMEM = 12;
}

KernelServices::KernelServices(emu::Machine& machine, uint64_t instructions_per_second)
    : m_machine(machine), m_instructions_per_second(instructions_per_second) {
    m_machine.register_host_call(kKthreadRun, [this](emu::HostCallContext& c) {
        emu::TaskSpec spec;
        spec.name = fmt::format("kworker/{}:{}", c.cpu(), ++m_workers);
        spec.kind = emu::TaskKind::Kthread;
        spec.entry = GuestAddr(c.arg(0));
        spec.args[0] = c.arg(1);
        spec.cpu = c.cpu();
        auto id = m_machine.create_task(spec);
        c.set_result(id ? uint64_t(*id) : uint64_t(-kENOMEM));
        if (id) {
            m_new_tasks = true;
            m_machine.request_stop();
        }
    });
    m_machine.register_host_call(kJiffies, [this](emu::HostCallContext& c) {
        c.set_result(m_machine.instructions() * kJiffiesPerSecond / m_instructions_per_second);
    });
}

} // namespace klpemu::scenario
