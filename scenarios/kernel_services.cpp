// See kernel_services.h.
#include "scenarios/kernel_services.h"

#include <fmt/format.h>

namespace klpemu::scenario {

namespace {
constexpr int64_t kENOMEM = 12;
constexpr size_t kTaskCommLen = 16; // TASK_COMM_LEN, with its NUL.
} // namespace

// A task name from guest memory: at most TASK_COMM_LEN - 1 characters, as the kernel keeps it.
std::optional<std::string> KernelServices::guest_name(uint64_t addr) const {
    if (addr == 0) {
        return std::nullopt;
    }
    std::string name;
    for (size_t i = 0; i + 1 < kTaskCommLen; ++i) {
        const GuestAddr at(addr + i);
        if (!m_machine.memory().is_mapped(at)) {
            break;
        }
        const auto c = m_machine.memory().load<char>(at);
        if (c == 0) {
            break;
        }
        name.push_back(c);
    }
    return name.empty() ? std::nullopt : std::optional<std::string>(name);
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
    m_machine.register_host_call(kKernelThread, [this](emu::HostCallContext& c) {
        emu::TaskSpec spec;
        spec.name =
            guest_name(c.arg(2)).value_or(fmt::format("kthread/{}:{}", c.cpu(), ++m_workers));
        spec.kind = emu::TaskKind::Kthread;
        spec.entry = GuestAddr(c.arg(0));
        spec.args[0] = c.arg(1);
        spec.cpu = c.cpu();
        spec.parent = c.task().id;
        auto id = m_machine.create_task(spec);
        c.set_result(id ? uint64_t(*id) : uint64_t(-kENOMEM));
        if (id) {
            m_new_tasks = true;
            m_machine.request_stop();
        }
    });
    m_machine.register_host_call(kJiffies,
                                 [this](emu::HostCallContext& c) { c.set_result(jiffies()); });
    m_machine.register_host_call(kSleepUntil, [this](emu::HostCallContext& c) {
        emu::Task& t = c.task();
        if (t.sleep_state == 0 || int64_t(jiffies() - c.arg(0)) >= 0) {
            t.sleep_state = 0;
            t.timer_at = emu::kNoTimer;
            c.set_result(0);
            return;
        }
        // A far time saturates: the timer stays armed (the sleep yields) rather than wrap.
        const uint64_t expire = c.arg(0);
        t.timer_at = expire > (emu::kNoTimer - 1) / m_instructions_per_second
                         ? emu::kNoTimer - 1
                         : expire * m_instructions_per_second / kJiffiesPerSecond;
        c.set_result(1);
    });
}

uint64_t KernelServices::jiffies() const {
    return m_machine.instructions() * kJiffiesPerSecond / m_instructions_per_second;
}

} // namespace klpemu::scenario
