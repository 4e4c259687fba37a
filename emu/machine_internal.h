// Private pieces of the machine shared by machine.cpp (setup, images, tasks, text writes) and
// machine_run.cpp (hooks, scheduler, exceptions, host calls). Not a public header.
#pragma once

#include "emu/cpu_clock.h"
#include "emu/cycle_model.h"
#include "emu/insn_encoding.h"
#include "emu/machine.h"
#include "emu/sp_alignment.h"
#include "emu/unicorn_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>

#include <sys/mman.h>

namespace klpemu::emu {

inline constexpr uint64_t kNoPc = std::numeric_limits<uint64_t>::max();

// Why a CPU's run stopped (set by hooks, read by the driver).
// HostCall: a host call ran inside the trap callback and the CPU must not go on (on_trap).
enum class CpuStop { None, Slice, Irq, Breakpoint, Observer, Trap, HostCall, Fault, AliasStore };

// One CPU: a Unicorn instance plus the per-CPU state the kernel keeps (current task, IRQ mask,
// counters). It is the BackendClient of its instance: callbacks jump into the Machine.
struct Machine::Cpu final : BackendClient {
    Machine& machine;
    int index;
    std::unique_ptr<UnicornBackend> backend;
    Task* current = nullptr;
    Task* idle = nullptr;
    bool halted = false;     // In cpu_idle's wait: nothing runnable.
    // hc_irq asked for a reschedule: the schedule() el1_interrupt calls next is
    // preempt_schedule_irq's (__schedule(SM_PREEMPT)), which never puts the task to sleep.
    bool preempting = false;
    bool irq_masked = false; // PSTATE.I as the machine models it.
    uint64_t instructions = 0;
    uint64_t cycles = 0;
    uint64_t exceptions = 0;
    std::unique_ptr<CpuClock> clock; // Pipeline model, front end, serialising events.
    bool isb_pending = false;        // Another CPU patched text: ISB before the next insn.
    uint64_t last_pc = kNoPc;        // PC of the instruction whose hook ran last (exact).
    // Re-entry guard: the first hook after a resume at this PC is skipped (Observer/text
    // restart) or passes the breakpoint (Breakpoint).
    uint64_t guard_pc = kNoPc;
    bool guard_skip_all = false;
    uint64_t next_timer = 0; // Per-CPU instruction count of the next timer IRQ (0 = off).
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
        bool sp_alignment = false; // An SP-based access with SP not 16-byte aligned.
    };
    std::optional<Fault> fault;
    // SP alignment model (emu/sp_alignment.h): re-read SP at the next boundary; whether it is
    // known to be misaligned now.
    bool sp_recheck = true;
    bool sp_misaligned = false;
    // Text guard: the PC and instruction count of the last stop at a stale exit (a block
    // translated while its word still trapped); a second one without progress is not the guard's.
    uint64_t stale_exit_pc = kNoPc;
    uint64_t stale_exit_instructions = 0;
    // Guest stores into the FIX_TEXT_POKE0 slot, caught before they happen and handed to the
    // text writer once the storing instruction has completed (emu/text_poke_alias.h).
    struct AliasStore {
        uint64_t pc = 0;
        uint64_t addr = 0;
        int size = 0;
        uint64_t value = 0;
    };
    std::vector<AliasStore> alias_stores;
    uint64_t context_syncs = 0;

    Cpu(Machine& m, int i) : machine(m), index(i) {}
    void on_code(uint64_t pc) noexcept override; // machine_run.cpp, beside Machine::on_code
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
    void on_data_access(uint64_t addr, int size, bool store) noexcept override {
        clock->data_access(addr, unsigned(size), store);
    }
    bool on_protected_write(uint64_t addr, int size, uint64_t value) noexcept override {
        return machine.on_protected_write(*this, addr, size, value);
    }
    // One executed instruction of task `t` charged `cost` cycles: the counts both code-hook
    // paths (Machine::on_code and on_code_full) keep.
    void retire(Task& t, uint64_t cost) noexcept {
        ++instructions;
        ++t.instructions;
        cycles += cost;
        t.cycles += cost;
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
    // What the code hook must do besides charging the instruction, found once per address so
    // the hook tests one byte instead of comparing the PC with each special address.
    enum Events : uint8_t {
        kIsb = 1 << 0,       // The word is an ISB: a context synchronisation after it.
        kEret = 1 << 1,      // The machine's exception return (`el1_eret`).
        kUserEntry = 1 << 2, // SVC entry from EL0 (`el0_svc_loop`): a context synchronisation.
    };
    // The table (≈ 2 MiB) comes straight from mmap: the kernel hands out zeroed pages on first
    // touch, so pages the hook never touches are never written (a machine uses a few hundred of
    // its 16,384 entries, and ≈ 134 machines are built per library run). calloc did the same
    // only for the first machine: once a chunk that size has been freed, glibc raises its mmap
    // threshold and the next calloc zeroes 2 MiB from the heap (1.7 % of a library run). An
    // all-zero entry must be empty: an entry keeps ~pc, and ~kNoPc is 0.
    struct Entry {
        uint64_t tag = 0; // ~pc of the instruction the facts are for; 0: none.
        InsnCost cost;
        uint8_t sp_flags = 0; // SpAlignmentFlags (emu/sp_alignment.h).
        uint8_t events = 0;   // Events.
        uint32_t word = 0;    // The instruction word the facts were decoded from.
    };
    // What zeroed memory relies on: it is a valid Entry, and an empty one.
    static_assert(std::is_trivially_copyable_v<Entry> && std::is_trivially_destructible_v<Entry>);
    static_assert(~kNoPc == 0, "an all-zero entry must stand for no instruction");
    CostCache(const GuestMemory& memory, std::shared_ptr<const CycleModel> model)
        : m_memory(memory), m_model(std::move(model)), m_table(allocate_table()) {}

    // The addresses of the machine's exception return and EL0 SVC entry (set once at boot).
    void set_event_pcs(uint64_t eret, uint64_t user_entry) {
        m_eret = eret;
        m_user_entry = user_entry;
        if (m_filled) {
            // Zero-filled again on next touch, without writing 2 MiB now.
            KLP_CHECK(madvise(m_table.get(), kTableBytes, MADV_DONTNEED) == 0,
                      "machine: cannot clear the cost cache");
            m_filled = false;
        }
    }

    // The cached facts of the instruction at `pc`, decoded on first use.
    const Entry& entry(uint64_t pc) {
        Entry& e = m_table[(pc >> 2) & (kEntries - 1)];
        if (e.tag != ~pc) [[unlikely]] {
            refill(e, pc);
        }
        return e;
    }
    const InsnCost& cost(uint64_t pc) { return entry(pc).cost; }
    void invalidate(GuestAddr begin, GuestAddr end) {
        for (uint64_t a = begin.align_down(4).value; a < end.value; a += 4) {
            Entry& e = m_table[(a >> 2) & (kEntries - 1)];
            if (e.tag == ~a) {
                e.tag = 0;
            }
        }
    }
    const CycleModel& model() const { return *m_model; }

  private:
    // Out of line: the code hook's fast path then needs no registers for a decode.
    [[gnu::noinline]] void refill(Entry& e, uint64_t pc) const {
        e.tag = ~pc;
        m_filled = true;
        fill(e, pc);
    }
    void fill(Entry& e, uint64_t pc) const {
        const std::optional<InsnWord> word = m_memory.insn_word(GuestAddr(pc));
        if (!word) {
            // Never executed (Unicorn fetches before the hook runs); still the facts of the
            // word recorded, as the clock's memo keys facts by word.
            e.word = 0;
            e.cost = m_model->cost(InsnWord(0));
            e.sp_flags = 0;
            e.events = 0;
            return;
        }
        const uint32_t w = word->raw;
        e.word = w;
        e.cost = m_model->cost(InsnWord(w));
        e.sp_flags = sp_alignment_flags(InsnWord(w), (e.cost.defs_mask >> kSpBit) & 1);
        e.events = uint8_t((a64::is_isb(InsnWord(w)) ? kIsb : 0) | (pc == m_eret ? kEret : 0) |
                           (pc == m_user_entry ? kUserEntry : 0));
    }
    const GuestMemory& m_memory;
    std::shared_ptr<const CycleModel> m_model; // Never shared with another live machine.
    static constexpr size_t kTableBytes = kEntries * sizeof(Entry);
    static Entry* allocate_table() {
        void* p =
            mmap(nullptr, kTableBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        KLP_CHECK(p != MAP_FAILED, "machine: cannot map the cost cache ({} bytes)", kTableBytes);
        return static_cast<Entry*>(p);
    }
    struct Unmap {
        void operator()(Entry* p) const { munmap(p, kTableBytes); }
    };
    std::unique_ptr<Entry[], Unmap> m_table;
    mutable bool m_filled = false; // Some entry was filled since the table was last cleared.
    uint64_t m_eret = kNoPc, m_user_entry = kNoPc;
};

} // namespace klpemu::emu
