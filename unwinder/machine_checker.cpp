// See machine_checker.h.
#include "unwinder/machine_checker.h"

#include <fmt/format.h>

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
      m_regs(size_t(machine.cpu_count())), m_verify_frame_regs(m_checker->config().full_walk) {
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
    update_frame_regs(cache, ev);
    BoundaryRegisters regs(m_machine, ev.cpu, cache.regs);
    const BranchClass& cls = m_checker->on_instruction(
        Boundary{ev.task, ev.cpu, ev.pc, ev.word, ev.instruction, &regs, &cache.regs});
    // sp/x29/x30 stay valid across instructions that certainly leave them alone; host writes
    // (task switches, exception entry, a host call setting them) are noticed through
    // frame_register_writes().
    if (cls.writes_frame_regs()) {
        // The registers as the instruction leaves them, computed now, while the copy and the
        // memory a load reads are as the instruction sees them; the next boundary of this CPU
        // takes them unless the host wrote a register in between. Once notified an instruction
        // runs (a stop requested by an observer resumes past the notification, emu/machine.h),
        // and one that faults kills its task, which the host's task switch reports.
        if (auto after = apply_frame_effect(cls.frame, ev.pc, cache.regs, m_memory)) {
            cache.next = *after;
            cache.pending = true;
            cache.effect = cls.frame;
            cache.pending_pc = ev.pc;
        } else {
            cache.valid = false;
        }
    }
}

void MachineChecker::read_frame_regs(CpuRegs& cache, int cpu, uint64_t host_writes) {
    cache.regs = m_machine.frame_regs(cpu);
    ++m_frame_reg_reads;
    cache.host_writes = host_writes;
    cache.valid = true;
    cache.pending = false;
}

void MachineChecker::update_frame_regs(CpuRegs& cache, const emu::InsnEvent& ev) {
    const uint64_t writes = m_machine.frame_register_writes(ev.cpu);
    if (!cache.valid || cache.host_writes != writes) {
        read_frame_regs(cache, ev.cpu, writes);
    } else if (cache.pending) {
        cache.regs = cache.next;
        cache.pending = false;
    }
    if (m_verify_frame_regs) [[unlikely]] {
        verify_frame_regs(cache, ev);
    }
}

void MachineChecker::verify_frame_regs(const CpuRegs& cache, const emu::InsnEvent& ev) const {
    const emu::FrameRegs real = m_machine.frame_regs(ev.cpu);
    KLP_CHECK(real == cache.regs,
              "unwinder: cpu{} at {:#x}: sp/x29/x30 kept as {:#x}/{:#x}/{:#x}, the CPU has "
              "{:#x}/{:#x}/{:#x} (last effect: op {} at {:#x})",
              ev.cpu, ev.pc.value, cache.regs.sp, cache.regs.fp, cache.regs.lr, real.sp, real.fp,
              real.lr, int(cache.effect.op), cache.pending_pc.value);
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
    // The host saved and restored task context: registers are caught by
    // frame_register_writes(), guest memory it may have written by comparing every task stack
    // before its next check.
    m_checker->on_host_work(to);
}

} // namespace klpemu::unwinder
