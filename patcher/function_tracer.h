// The function tracer (kernel/trace/trace_functions.c, `current_tracer = function`): an ordinary
// ftrace ops client whose callback logs `task-pid [cpu] func <-parent` for every traced entry.
#pragma once

#include "emu/machine.h"
#include "patcher/ftrace_ops.h"
#include "patcher/trace_buffer.h"

namespace klpemu::patcher {

class FunctionTracer {
  public:
    // Contract: `machine` and `buffer` outlive the tracer.
    FunctionTracer(emu::Machine& machine, TraceBuffer& buffer)
        : m_machine(machine), m_buffer(buffer) {}

    // The ops callback (function_trace_call).
    void on_entry(FtraceCall& call);

  private:
    emu::Machine& m_machine;
    TraceBuffer& m_buffer;
};

} // namespace klpemu::patcher
