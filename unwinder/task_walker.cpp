// See task_walker.h.
#include "unwinder/task_walker.h"

#include "unwinder/stack_bottoms.h"

#include <fmt/format.h>

namespace klpemu::unwinder {

TaskWalker::TaskWalker(const emu::Machine& machine, std::string_view policy, const CfiTable* cfi)
    : m_machine(machine), m_memory(machine.memory()), m_policy(make_policy(policy)), m_cfi(cfi) {
    KLP_CHECK(m_policy != nullptr, "unknown unwinder policy '{}'", policy);
    if (auto rth = machine.symbols().lookup("return_to_handler")) {
        m_return_to_handler = rth->addr;
    }
}

UnwindResult TaskWalker::unwind_task(int id) const {
    const emu::Task& t = m_machine.task(id);
    if (t.state == emu::TaskState::Running) {
        UnwindResult r;
        r.reason = fmt::format("task {} is running on CPU {}", t.name, t.cpu);
        return r;
    }
    if (t.finished()) {
        UnwindResult r;
        r.reason = fmt::format("task {} has exited", t.name);
        return r;
    }
    const KnownStack stacks[] = {KnownStack{StackKind::Task, t.stack}};
    const Registers regs{GuestAddr(t.saved.pc), GuestAddr(t.saved.lr), GuestAddr(t.saved.fp),
                         GuestAddr(t.saved.sp)};
    StackView view = StackView::blocked(regs, m_memory, stacks, t.pt_regs);
    view.cfi = m_cfi;
    view.return_to_handler = m_return_to_handler;
    // seed-v4's kthread bottom (the boot objects that hold it never change after boot).
    if (m_bottoms.empty()) {
        m_bottoms = bottom_return_addresses(m_machine.symbols(), m_memory);
    }
    view.bottom_return_addresses = m_bottoms;
    auto g = m_graph.find(id);
    view.graph = g == m_graph.end() ? nullptr : g->second;
    return m_policy->unwind(view);
}

emu::StackWalkResult TaskWalker::save_task_reliable(int task) const {
    UnwindResult r = unwind_task(task);
    return emu::StackWalkResult{r.reliable, std::move(r.reason), std::move(r.return_addresses)};
}

} // namespace klpemu::unwinder
