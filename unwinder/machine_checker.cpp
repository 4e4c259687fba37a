// See machine_checker.h.
#include "unwinder/machine_checker.h"

#include <cstring>

namespace klpemu::unwinder {

namespace {

// The registers of one CPU at one boundary: sp/x29/x30 from the checker's per-CPU cache (made
// current before the boundary is checked), anything else read on demand.
class BoundaryRegisters final : public RegisterReader {
  public:
    BoundaryRegisters(const emu::Machine& machine, int cpu, const emu::FrameRegs& frame)
        : m_machine(machine), m_cpu(cpu), m_frame(frame) {}
    uint64_t x(unsigned n) const override {
        if (n < 29) {
            return m_machine.read_x(m_cpu, int(n));
        }
        return n == 29 ? m_frame.fp : n == 30 ? m_frame.lr : m_frame.sp;
    }

  private:
    const emu::Machine& m_machine;
    int m_cpu;
    const emu::FrameRegs& m_frame;
};

} // namespace

std::optional<uint64_t> MachineMemory::read_u64(GuestAddr addr) const {
    const uint8_t* p = m_memory.host_ptr(addr, 8);
    if (p == nullptr) {
        return std::nullopt;
    }
    uint64_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return v;
}

MachineChecker::MachineChecker(emu::Machine& machine, CheckerConfig config, const CfiTable* cfi)
    : m_machine(machine), m_memory(machine.memory()),
      m_checker(std::make_unique<ReliabilityChecker>(std::move(config), m_memory, machine.symbols(),
                                                     cfi)),
      m_regs(size_t(machine.cpu_count())) {
    if (auto eret = machine.symbols().lookup("el1_eret")) {
        m_eret = eret->addr;
    }
    m_machine.add_observer(this);
}

MachineChecker::~MachineChecker() {
    m_machine.remove_observer(this);
}

void MachineChecker::ensure_task(int task) {
    if (task < 0 || (size_t(task) < m_known.size() && m_known[size_t(task)] != 0)) {
        return;
    }
    if (size_t(task) >= m_known.size()) {
        m_known.resize(size_t(task) + 1, 0);
    }
    m_known[size_t(task)] = 1;
    const emu::Task& t = m_machine.task(task);
    TaskContext ctx;
    ctx.name = t.name;
    ctx.stacks = {KnownStack{StackKind::Task, t.stack}};
    ctx.pt_regs = t.pt_regs;
    auto g = m_graph.find(task);
    ctx.graph = g == m_graph.end() ? nullptr : g->second;
    // The machine counts the instruction about to run before observers see it.
    ctx.truth_from_start = t.instructions <= 1;
    m_checker->add_task(task, std::move(ctx));
}

void MachineChecker::on_instruction(const emu::InsnEvent& ev) {
    if (ev.task >= 0 && (size_t(ev.task) >= m_known.size() || m_known[size_t(ev.task)] == 0))
        [[unlikely]] {
        ensure_task(ev.task);
    }
    CpuRegs& cache = m_regs[size_t(ev.cpu)];
    const uint64_t writes = m_machine.register_writes(ev.cpu);
    if (!cache.valid || cache.host_writes != writes) {
        cache.regs = m_machine.frame_regs(ev.cpu);
        cache.host_writes = writes;
        cache.valid = true;
    }
    BoundaryRegisters regs(m_machine, ev.cpu, cache.regs);
    const BranchClass& cls = m_checker->on_instruction(
        Boundary{ev.task, ev.cpu, ev.pc, ev.word, ev.instruction, &regs, &cache.regs});
    // sp/x29/x30 stay valid across instructions that certainly leave them alone; host writes
    // (task switches, exception entry, host calls) are noticed through register_writes().
    if (cls.writes_frame_regs) {
        cache.valid = false;
    }
}

void MachineChecker::on_exception_entry(int /*cpu*/, int task, emu::ExceptionKind /*kind*/,
                                        GuestAddr pc) {
    ensure_task(task);
    m_checker->on_exception_entry(task, pc);
}

void MachineChecker::on_exception_return(int /*cpu*/, int task, emu::ExceptionKind /*kind*/,
                                         GuestAddr pc) {
    ensure_task(task);
    m_checker->on_exception_return(task, m_eret, pc);
}

void MachineChecker::on_host_call(int /*cpu*/, int task, uint32_t /*number*/) {
    m_checker->on_host_work(task);
}

void MachineChecker::on_task_switch(int /*cpu*/, int /*from*/, int to) {
    // The host saved and restored task context: registers are caught by register_writes(),
    // guest memory it may have written by comparing every task stack before its next check.
    m_checker->on_host_work(to);
}

} // namespace klpemu::unwinder
