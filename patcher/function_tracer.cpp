// The function tracer's callback (see function_tracer.h).
#include "patcher/function_tracer.h"

#include <fmt/format.h>

namespace klpemu::patcher {

void FunctionTracer::on_entry(FtraceCall& call) {
    const emu::Task& task = call.host.task();
    m_buffer.add(fmt::format("{}-{} [{:03}] {} <-{}", task.name, task.id, call.host.cpu(),
                             call.function, m_machine.symbolize(call.parent_ip).base),
                 m_machine.instructions());
}

} // namespace klpemu::patcher
