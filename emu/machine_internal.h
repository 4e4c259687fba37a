// Private pieces of the machine shared by machine.cpp (setup, images, tasks, text writes) and
// machine_run.cpp (hooks, scheduler, exceptions, host calls). Not a public header.
#pragma once

#include "emu/machine.h"
#include "emu/unicorn_backend.h"

#include <limits>
#include <optional>

namespace klpemu::emu {

inline constexpr uint64_t kNoPc = std::numeric_limits<uint64_t>::max();

// Why a CPU's run stopped (set by hooks, read by the driver).
enum class CpuStop { None, Slice, Irq, Breakpoint, Observer, Trap, Fault };

// One CPU: a Unicorn instance plus the per-CPU state the kernel keeps (current task, IRQ mask,
// counters). It is the BackendClient of its instance: callbacks jump into the Machine.
struct Machine::Cpu final : BackendClient {
    Machine& machine;
    int index;
    std::unique_ptr<UnicornBackend> backend;
    Task* current = nullptr;
    Task* idle = nullptr;
    bool halted = false;      // In cpu_idle's wait: nothing runnable.
    bool irq_masked = false;  // PSTATE.I as the machine models it.
    uint64_t instructions = 0;
    uint64_t cycles = 0;
    uint64_t exceptions = 0;
    uint64_t last_pc = kNoPc; // PC of the instruction whose hook ran last (exact).
    // Re-entry guard: the first hook after a resume at this PC is skipped (Observer/text
    // restart) or passes the breakpoint (Breakpoint).
    uint64_t guard_pc = kNoPc;
    bool guard_skip_all = false;
    uint64_t next_timer = 0;  // Per-CPU instruction count of the next timer IRQ (0 = off).
    std::vector<uint64_t> scripted_irqs; // Global instruction counts, sorted.
    CpuStop stop = CpuStop::None;
    TrapKind trap_kind = TrapKind::Other;
    uint64_t trap_pc = 0;
    struct Fault {
        int access = 0;
        bool unmapped = true;
        uint64_t addr = 0;
        int size = 0;
        uint64_t pc = 0;
    };
    std::optional<Fault> fault;

    Cpu(Machine& m, int i) : machine(m), index(i) {}
    void on_code(uint64_t pc) noexcept override { machine.on_code(*this, pc); }
    void on_trap(TrapKind kind, uint32_t) noexcept override {
        trap_kind = kind;
        machine.on_trap(*this);
    }
    void on_mem_fault(MemAccess access, bool unmapped, uint64_t addr, int size) noexcept override {
        machine.on_mem_fault(*this, int(access), unmapped, addr, size);
    }
    void on_mem_write(uint64_t addr, int size) noexcept override {
        machine.on_mem_write(*this, addr, size);
    }
    void stop_now(CpuStop why) noexcept {
        stop = why;
        backend->stop();
    }
};

// Per-address instruction cost, cached and invalidated by write_text (design.md §3 "Clock").
// A direct-mapped table in front of the cost function keeps the hook's lookup to a compare.
class Machine::CostCache {
  public:
    static constexpr size_t kEntries = 1 << 14;
    struct Entry {
        uint64_t pc = kNoPc;
        uint32_t cycles = 0;
    };
    explicit CostCache(const GuestMemory& memory) : m_memory(memory), m_table(kEntries) {}

    uint32_t cycles(uint64_t pc) {
        Entry& e = m_table[(pc >> 2) & (kEntries - 1)];
        if (e.pc != pc) [[unlikely]] {
            e.pc = pc;
            e.cycles = compute(pc);
        }
        return e.cycles;
    }
    void invalidate(GuestAddr begin, GuestAddr end) {
        for (uint64_t a = begin.align_down(4).value; a < end.value; a += 4) {
            Entry& e = m_table[(a >> 2) & (kEntries - 1)];
            if (e.pc == a) {
                e.pc = kNoPc;
            }
        }
    }

  private:
    uint32_t compute(uint64_t) { return 1; }
    const GuestMemory& m_memory;
    std::vector<Entry> m_table;
};

} // namespace klpemu::emu
