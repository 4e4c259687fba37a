// Private pieces of the machine shared by machine.cpp (setup, images, tasks, text writes) and
// machine_run.cpp (hooks, scheduler, exceptions, host calls). Not a public header.
#pragma once

#include "emu/cycle_model.h"
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
    InOrderPipeline pipeline; // Per-CPU issue state for the in-order cycle rule.
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

// Per-address instruction cost from the CycleModel (LLVM's scheduling model for the configured
// core), cached and invalidated by write_text (design.md §3 "Clock"). A direct-mapped table keeps
// the hook's lookup to one compare; a miss decodes the word guest memory holds now.
class Machine::CostCache {
  public:
    static constexpr size_t kEntries = 1 << 14;
    struct Entry {
        uint64_t pc = kNoPc;
        InsnCost cost;
    };
    CostCache(const GuestMemory& memory, CycleModel model)
        : m_memory(memory), m_model(std::move(model)), m_table(kEntries) {}

    const InsnCost& cost(uint64_t pc) {
        Entry& e = m_table[(pc >> 2) & (kEntries - 1)];
        if (e.pc != pc) [[unlikely]] {
            e.pc = pc;
            e.cost = compute(pc);
        }
        return e.cost;
    }
    void invalidate(GuestAddr begin, GuestAddr end) {
        for (uint64_t a = begin.align_down(4).value; a < end.value; a += 4) {
            Entry& e = m_table[(a >> 2) & (kEntries - 1)];
            if (e.pc == a) {
                e.pc = kNoPc;
            }
        }
    }
    const CycleModel& model() const { return m_model; }

  private:
    InsnCost compute(uint64_t pc) const {
        const uint8_t* p = m_memory.host_ptr(GuestAddr(pc), 4);
        if (!p) {
            return kUnknownInsnCost;
        }
        uint32_t w = 0;
        std::memcpy(&w, p, 4);
        return m_model.cost(InsnWord(w));
    }
    const GuestMemory& m_memory;
    CycleModel m_model;
    std::vector<Entry> m_table;
};

} // namespace klpemu::emu
