// The function-graph tracer (kernel/trace/fgraph.c + trace_functions_graph.c, `current_tracer =
// function_graph`): an ordinary ftrace ops client. Its callback (ftrace_graph_func) pushes the
// traced function's return address onto the task's return stack and replaces it with
// return_to_handler; return_to_handler comes back through host call 0x101
// (ftrace_return_to_handler), which pops the entry, checks the frame pointer (fgraph-mismatch)
// and returns the original address. Lines are `cpu) | func() {` on entry and
// `cpu) N cycles | } /* func */` on return.
//
// One per-task stack serves both the tracer and the unwinders: its entries are the
// current->ret_stack that GraphReturnStack exposes, beside each entry's name and start clock.
#pragma once

#include "emu/graph_return_stack.h"
#include "emu/machine.h"
#include "patcher/ftrace_ops.h"
#include "patcher/trace_buffer.h"

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace klpemu::patcher {

class GraphTracer {
  public:
    // Contract: `machine` and `buffer` outlive the tracer.
    GraphTracer(emu::Machine& machine, TraceBuffer& buffer, GuestAddr return_to_handler)
        : m_machine(machine), m_buffer(buffer), m_return_to_handler(return_to_handler) {}

    // The ops callback (ftrace_graph_func): hijacks the traced function's return.
    void on_entry(FtraceCall& call);
    // function_graph_enter, as prepare_ftrace_return calls it on kernels that branch from
    // ftrace_graph_call to ftrace_graph_caller (<= v5.19): pushes `ret` (the traced function's
    // return address) with the frame pointer `retp` for `function` (call site `ip`) on `task`'s
    // stack and logs the entry line. The caller then writes return_to_handler where `ret` was.
    void enter(int task, int cpu, std::string_view function, GuestAddr ip, GuestAddr ret,
               GuestAddr retp);
    // Host call 0x101 (ftrace_return_to_handler): x0 is return_to_handler's fregs; sets x0 to
    // the original return address.
    void on_return(emu::HostCallContext& ctx);

    // The return stack of `task` as unwinders read it; lives as long as the tracer.
    const GraphReturnStack& return_stack(int task) { return stack_of(task); }

  private:
    // One task's ret_stack.
    class TaskStack final : public GraphReturnStack {
      public:
        explicit TaskStack(GuestAddr handler) : m_handler(handler) {}
        std::span<const GraphReturnEntry> entries() const override { return entries_; }
        GuestAddr return_to_handler() const override { return m_handler; }

        struct Timing {
            std::string function;
            uint64_t start_cycles = 0;
        };
        std::vector<GraphReturnEntry> entries_; // Oldest first.
        std::vector<Timing> timing;             // Parallel to entries_.

      private:
        GuestAddr m_handler;
    };
    TaskStack& stack_of(int task);

    emu::Machine& m_machine;
    TraceBuffer& m_buffer;
    GuestAddr m_return_to_handler;
    std::unordered_map<int, std::unique_ptr<TaskStack>> m_stacks;
};

} // namespace klpemu::patcher
