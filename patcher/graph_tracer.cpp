// The function-graph tracer's entry callback and return handler (see graph_tracer.h).
#include "patcher/graph_tracer.h"

#include <fmt/format.h>

namespace klpemu::patcher {

namespace {

// Where return_to_handler saved the x29 it returned with (ftrace_support.S).
constexpr int64_t kGraphFregsFp = 80;

} // namespace

GraphTracer::TaskStack& GraphTracer::stack_of(int task) {
    auto& slot = m_stacks[task];
    if (!slot) {
        slot = std::make_unique<TaskStack>(m_return_to_handler);
    }
    return *slot;
}

void GraphTracer::on_entry(FtraceCall& call) {
    enter(call.host.task().id, call.host.cpu(), call.function, call.ip, call.regs.lr(),
          GuestAddr(call.regs.fp()));
    call.regs.set_lr(m_return_to_handler);
}

void GraphTracer::enter(int task, int cpu, std::string_view function, GuestAddr ip, GuestAddr ret,
                        GuestAddr retp) {
    TaskStack& stack = stack_of(task);
    const size_t depth = stack.entries_.size();
    const auto func = m_machine.symbols().lookup(function);
    stack.entries_.push_back(GraphReturnEntry{ret, retp, func ? func->addr : ip});
    stack.timing.push_back(TaskStack::Timing{std::string(function), m_machine.cpu_cycles(cpu)});
    m_buffer.add(fmt::format("{:>2}) {:>12} | {:{}}{}() {{", cpu, "", "", 2 * depth, function),
                 m_machine.instructions());
}

void GraphTracer::on_return(emu::HostCallContext& ctx) {
    const GuestAddr fregs(ctx.arg(0));
    const uint64_t fp = m_machine.memory().load<uint64_t>(fregs + kGraphFregsFp);
    TaskStack& stack = stack_of(ctx.task().id);
    if (stack.entries_.empty()) {
        m_machine.report("fgraph-mismatch", Severity::Fatal, ctx.pc(), ctx.cpu(), ctx.task().id,
                         "return_to_handler reached with an empty graph return stack");
        m_machine.request_stop();
        return;
    }
    const GraphReturnEntry entry = stack.entries_.back();
    const TaskStack::Timing timing = stack.timing.back();
    stack.entries_.pop_back();
    stack.timing.pop_back();
    if (fp != entry.retp.value) {
        m_machine.report("fgraph-mismatch", Severity::Error, ctx.pc(), ctx.cpu(), ctx.task().id,
                         fmt::format("Bad frame pointer: expected {:#x}, received {:#x} from func "
                                     "{} return to {}",
                                     entry.retp.value, fp, timing.function,
                                     m_machine.symbolize(entry.ret).str()));
    }
    ctx.set_result(entry.ret.value);
    const uint64_t cycles = m_machine.cpu_cycles(ctx.cpu()) - timing.start_cycles;
    m_buffer.add(fmt::format("{:>2}) {:>6} cycles | {:{}}}} /* {} */", ctx.cpu(), cycles, "",
                             2 * stack.entries_.size(), timing.function),
                 m_machine.instructions());
}

} // namespace klpemu::patcher
