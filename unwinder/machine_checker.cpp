// See machine_checker.h.
#include "unwinder/machine_checker.h"

#include <cstring>

namespace klpemu::unwinder {

namespace {

// Reads the CPU's registers once, on first use, at one instruction boundary.
class LazyRegisters final : public RegisterReader {
  public:
    LazyRegisters(const emu::Machine& machine, int cpu) : m_machine(machine), m_cpu(cpu) {}
    uint64_t x(unsigned n) const override {
        if (!m_state) {
            m_state = m_machine.cpu_state(m_cpu);
        }
        return n == 31 ? m_state->sp : m_state->x[n];
    }

  private:
    const emu::Machine& m_machine;
    int m_cpu;
    mutable std::optional<emu::CpuState> m_state;
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
                                                     cfi)) {
    if (auto eret = machine.symbols().lookup("el1_eret")) {
        m_eret = eret->addr;
    }
    m_machine.add_observer(this);
}

MachineChecker::~MachineChecker() {
    m_machine.remove_observer(this);
}

void MachineChecker::ensure_task(int task) {
    if (m_known.count(task) != 0) {
        return;
    }
    m_known[task] = true;
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
    ensure_task(ev.task);
    LazyRegisters regs(m_machine, ev.cpu);
    m_checker->on_instruction(Boundary{ev.task, ev.cpu, ev.pc, ev.word, ev.instruction, &regs});
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

} // namespace klpemu::unwinder
