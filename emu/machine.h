// The machine: the front door of emu/ (design.md §3). It models an arm64 SMP system running a
// small kernel: N CPUs (one Unicorn instance each) sharing guest RAM, tasks with kernel stacks
// laid out as v6.13+ does, exception entry for IRQs, host calls, and one deterministic
// scheduler driving every CPU from one host thread. The patcher and the unwinder act on it
// through write_text() and ExecutionObserver; tests and scenarios through run().
//
// Memory map (all kernel virtual addresses; flat on Unicorn 2.0.1):
//
//   0xffff800002000000  module area, near: [K-96 MiB, K-32 MiB), within BL reach of the kernel
//   0xffff800008000000  K: kernel image (32 MiB): the machine's guest objects, then kernel objects;
//                       CPUs map only the loaded pages, a segment at a time (deferred_pages.h)
//   0xffff800040000000  task stacks: 16 KiB each, 16 KiB aligned, 16 KiB unmapped guard between;
//                       a finished task's stack is reused by the next task created
//   0xffff800050000000  per-CPU IRQ stacks: 16 KiB each (allocated; entry does not switch yet)
//   0xffff800100000000  module area, far: > 2 GiB from the kernel, so calls need PLTs
#pragma once

#include "emu/assembly_memo.h"
#include "emu/cpu_state.h"
#include "emu/cycle_model.h"
#include "emu/cycle_model_pool.h"
#include "emu/debug_view.h"
#include "emu/deferred_pages.h"
#include "emu/finding.h"
#include "emu/finding_emitter.h"
#include "emu/fp_state.h"
#include "emu/guest_addr.h"
#include "emu/guest_memory.h"
#include "emu/host_call.h"
#include "emu/image.h"
#include "emu/insn_word.h"
#include "emu/kernel_era.h"
#include "emu/memory_permissions.h"
#include "emu/observer.h"
#include "emu/result.h"
#include "emu/stale_fetch.h"
#include "emu/symbol_table.h"
#include "emu/task.h"
#include "emu/text_poke_alias.h"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace klpemu::emu {

class TextGuard;

inline constexpr GuestAddr kKernelBase{0xffff800008000000ULL};
inline constexpr uint64_t kKernelSize = 32ULL << 20;
inline constexpr GuestAddr kModuleNearBase{0xffff800002000000ULL};
inline constexpr uint64_t kModuleNearSize = 64ULL << 20;
inline constexpr GuestAddr kStackBase{0xffff800040000000ULL};
inline constexpr GuestAddr kIrqStackBase{0xffff800050000000ULL};
inline constexpr GuestAddr kModuleFarBase{0xffff800100000000ULL};
// End of the task and IRQ stack areas: never executable (a fetch there is a protection fault).
inline constexpr GuestAddr kStackAreaEnd{0xffff800060000000ULL};
inline constexpr int kMaxCpus = 8;
// Task stacks are reused once their task has finished; at most this many tasks (idle tasks
// included) are alive at once. Each stack is one Unicorn region, and QEMU aborts the whole
// process past a few thousand (phys_section_add), so the limit is an error well before that.
inline constexpr size_t kMaxLiveTasks = 512;

// The stated cost of a host call (cycles): klpemu's own HVC round trip into C++, which stands
// for the guest code the callback replaces; it is not a hardware figure. Exception entry/return
// and text patching are costed per core by emu/cpu_clock.h.
inline constexpr uint64_t kHostCallCycles = 40;

// The guest returns from an exception with a real ERET (ELR_EL1/SPSR_EL1 work on 2.0.1); the
// machine notices it when the code hook reaches `el1_eret` in emu/guest/entry.S.

enum class Placement { Near, Far, At };

struct SwitchPoint {
    uint64_t at_instruction = 0; // Global instruction count at which `cpu` starts running.
    int cpu = 0;
};

enum class ScheduleKind { RoundRobin, Random, Scripted };

struct SchedulePolicy {
    ScheduleKind kind = ScheduleKind::RoundRobin;
    uint64_t quantum = 1000;                // RoundRobin: slice; Random: maximum slice.
    std::vector<SwitchPoint> switch_points; // Scripted; round-robin after the last one.
};

struct MachineConfig {
    int cpus = 1;                          // 1..8
    std::string core = "cortex-a53";       // Scheduling model for cycle costs.
    CycleAccuracy cycles = CycleAccuracy::Fast; // Pipeline model (emu/cpu_clock.h).
    uint64_t seed = 0;                     // Random interleaving.
    SchedulePolicy scheduling;
    uint64_t instruction_budget = 200'000'000; // Executed, all CPUs; exhausting it is a finding.
    uint64_t irq_timer_period = 0;         // Per-CPU instructions between timer IRQs; 0 = off.
    bool observe_memory_writes = false;    // Install UC_HOOK_MEM_WRITE (decided at creation).
    // Model the L1 D-cache and D-TLB (emu/data_side.h): every guest load and store goes through
    // a Unicorn memory hook, so this costs emulation speed; off by default.
    bool data_cache = false;
    bool code_hook = true;                 // Off only for the raw-Unicorn benchmark.
    // The text guard (emu/text_guard.h): words Unicorn's translator would abort on trap as
    // undefined-instruction instead. Off only for the raw-Unicorn benchmark.
    bool text_guard = true;
    // Which word a CPU that has not synchronised since a live text write executes
    // (emu/stale_fetch.h): Unicorn's `new`, or the `old` one the architecture also allows.
    StaleFetch stale_fetch = StaleFetch::New;
    // Whose exception entry the guest runs (emu/kernel_era.h, emu/guest/entry.S): the pt_regs
    // size and the frame record kernel_entry leaves for the unwinders.
    KernelEra era = kDefaultEra;
    // Shared by the machines a process boots (emu/assembly_memo.h); null: assemble every time.
    std::shared_ptr<AssemblyMemo> assembly_memo;
    // Where the machine takes its cycle model from and gives it back to when it is destroyed
    // (emu/cycle_model_pool.h); null: a new model for this machine alone.
    std::shared_ptr<CycleModelPool> cycle_models;
};

struct TaskSpec {
    std::string name;
    TaskKind kind = TaskKind::Kthread;
    GuestAddr entry;           // Kthread: the thread function; User: the syscall function.
    std::array<uint64_t, 8> args{};
    int cpu = 0;
    uint64_t repeat = 1;       // User tasks: number of syscalls before exit.
    int parent = -1;           // The forking task (copy_process's current); -1: none runs.
};

enum class StopReason {
    AllTasksFinished, // Every non-idle task exited or was killed.
    InstructionLimit, // run()'s max_instructions reached.
    BudgetExhausted,  // The machine's instruction budget is spent (a finding was added).
    Breakpoint,       // A CPU is about to execute a breakpoint address.
    StopRequested,    // An observer or host call asked for a stop.
    AllBlocked,       // Live tasks remain but none is runnable.
};

struct RunResult {
    StopReason reason = StopReason::AllTasksFinished;
    int cpu = -1;        // The CPU that hit the breakpoint or stopped.
    GuestAddr pc;
};

std::string_view stop_reason_name(StopReason r);

class Machine {
  public:
    // Builds the CPUs, maps the memory map and boots the guest machine object (emu/guest/*.S).
    static Result<std::unique_ptr<Machine>> create(const MachineConfig& config);
    ~Machine();
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    const MachineConfig& config() const { return m_config; }
    int cpu_count() const { return int(m_cpus.size()); }
    GuestMemory& memory() { return m_memory; }
    // Words the text guard traps now (each one a Unicorn exit), for tests and benchmarks.
    size_t guard_trap_count() const;
    // Page permissions (strict RWX) the CPUs enforce on guest accesses; host writes bypass them.
    const MemoryPermissions& permissions() const { return m_permissions; }
    const GuestMemory& memory() const { return m_memory; }
    SymbolTable& symbols() { return m_symbols; }
    const SymbolTable& symbols() const { return m_symbols; }
    Symbolized symbolize(GuestAddr a) const { return m_symbols.symbolize(a); }
    // The DWARF line rows of every loaded object (emu/line_table.h), in load order. The tables
    // are read on the first call after a load, not at load.
    const std::vector<LineRow>& lines() const;
    // Drops the line rows of an unloaded object.
    void forget_lines(std::string_view object);
    // Address of a global symbol; error names it if unknown.
    Result<GuestAddr> symbol(std::string_view name) const;

    // --- images ---
    // Reserves `size` bytes (page aligned) in the kernel image area.
    Result<GuestAddr> reserve_kernel_region(uint64_t size);
    // Reserves and maps a module region: Near (BL reach of the kernel), Far (>= 2 GiB away,
    // needs PLTs) or At `at`.
    Result<GuestAddr> reserve_module_region(uint64_t size, Placement placement, GuestAddr at = {});
    // Copies the object's sections into guest memory (bss zero-filled), mapping any pages not
    // yet mapped, and adds its symbols.
    Result<void> load(const LoadedObject& object);
    // The CFI sections of every object loaded so far (boot objects included), in load order:
    // the input the cfi unwinder's table is built from.
    const std::vector<CfiSection>& cfi_sections() const { return m_cfi_sections; }
    // Assembles `source`, loads it at the next free kernel address (or a module region) against
    // the machine's symbols, maps it and returns it.
    Result<LoadedObject> load_assembly(std::string_view source, std::string_view name,
                                       ObjectKind kind = ObjectKind::Kernel,
                                       Placement placement = Placement::Near);

    // --- tasks ---
    // Creates a task with its stack and terminal frame; it starts in ret_from_fork (kthread),
    // the syscall loop (user) on its CPU.
    Result<int> create_task(const TaskSpec& spec);
    Task& task(int id) { return *m_tasks.at(size_t(id)); }
    const Task& task(int id) const { return *m_tasks.at(size_t(id)); }
    int task_count() const { return int(m_tasks.size()); }
    // Id of the task running on `cpu` (its idle task when nothing else runs).
    int current_task(int cpu) const;
    // wake_up_process(): ends the sleep of task `id` (its state becomes TASK_RUNNING, its timer
    // is disarmed); a task blocked in schedule() becomes runnable and its CPU leaves cpu_idle.
    // Contract: `id` names a task.
    void wake_up(int id);
    // Creates a kthread calling `fn(args)`, runs the machine until every task finishes, returns
    // its exit value. For tests.
    Result<uint64_t> call(GuestAddr fn, std::array<uint64_t, 8> args = {}, int cpu = 0);

    // --- running ---
    // Runs until a stop reason (at most `max_instructions` more instructions).
    Result<RunResult> run(uint64_t max_instructions = UINT64_MAX);
    // Asks the run loop to stop at the next instruction boundary (observers, host calls).
    void request_stop() { m_stop_requested = true; }
    void add_breakpoint(GuestAddr a) { m_breakpoints.insert(a.value); }
    void remove_breakpoint(GuestAddr a) { m_breakpoints.erase(a.value); }
    void add_observer(ExecutionObserver* o);
    // Adds `o` before every other observer: it sees each instruction before any checker has
    // taken it into account (the step debugger stops there).
    void add_observer_first(ExecutionObserver* o);
    void remove_observer(ExecutionObserver* o);
    // Abandons the machine (a debugger dropping a session mid-run): the current run stops at the
    // next boundary and every run() from now on fails, so whatever drives it unwinds.
    void abort_runs() {
        m_aborted = true;
        m_stop_requested = true;
    }
    // Engines' own debugger views (emu/debug_view.h); they must outlive their registration.
    void add_debug_view(const DebugView* v) { m_debug_views.push_back(v); }
    void remove_debug_view(const DebugView* v) { std::erase(m_debug_views, v); }
    const std::vector<const DebugView*>& debug_views() const { return m_debug_views; }

    // --- exceptions ---
    // IRQ on `cpu` when the global instruction count reaches `at_instruction` (or as soon after
    // as IRQs are unmasked and that CPU runs).
    void schedule_irq(int cpu, uint64_t at_instruction);
    // IRQ on `cpu` at its next instruction boundary.
    void request_irq(int cpu) { schedule_irq(cpu, 0); }
    uint64_t exceptions_taken(int cpu) const;

    // --- host calls ---
    // Registers `handler` for `hvc #number`; replaces an earlier one.
    void register_host_call(uint16_t number, HostCallHandler handler);

    // --- text ---
    // THE way to change guest text: writes the word, invalidates translated code for the page on
    // every CPU, drops cached costs, and (inside a hook) makes the hooked CPU retranslate at PC.
    Result<void> write_text(GuestAddr addr, InsnWord word);
    // Same for several bytes (PLT blocks, 64-bit literals).
    Result<void> write_text_bytes(GuestAddr addr, std::span<const uint8_t> bytes);
    // Under MachineConfig::stale_fetch == Old: `cpu` keeps executing `old_word` at `pc` (nullopt:
    // memory) until its next context synchronisation. Ignored under New and for words the
    // machine cannot run in place (emu/stale_fetch.h). Called by the patcher for live writes.
    void set_stale_view(int cpu, GuestAddr pc, std::optional<InsnWord> old_word);
    // Guest stores through the FIX_TEXT_POKE0 alias go to `writer` (nullptr: the machine writes
    // them itself). Contract: `writer` outlives its registration.
    void set_text_alias_writer(TextAliasWriter* writer) { m_alias_writer = writer; }
    // Context synchronisation events per CPU so far (ISB, exception entry and return).
    uint64_t context_syncs(int cpu) const;

    // --- state and clocks ---
    CpuState cpu_state(int cpu) const;
    // sp, x29, x30 of `cpu` in one Unicorn call: the narrow read for per-instruction observers.
    FrameRegs frame_regs(int cpu) const;
    // One register: x0..x30, 31 = sp.
    uint64_t read_x(int cpu, int index) const;
    // Counts host writes that may change `cpu`'s sp, x29 or x30 (task switches, exception entry,
    // set_cpu_state, a host call setting one of them): unchanged means only guest instructions
    // changed them since they were read.
    uint64_t frame_register_writes(int cpu) const;
    void set_cpu_state(int cpu, const CpuState& state);
    // The FP/SIMD register file of `cpu` (v0-v31, FPSR, FPCR; emu/fp_state.h).
    FpState fp_state(int cpu) const;
    void set_fp_state(int cpu, const FpState& state);
    uint64_t instructions() const { return m_clock; } // The one clock.
    // Of the clock, the time that passed with every CPU idle (pass_idle_time)...
    uint64_t idle_time() const { return m_idle_time; }
    // ...and the instructions executed, on all CPUs (what the instruction budget counts).
    uint64_t executed_instructions() const { return m_clock - m_idle_time; }
    // NO_HZ idle: lets the clock run on to `until` with no instruction executed, as an idle
    // kernel waits for its next timer; idle time does not count against the instruction budget.
    // A scripted IRQ (schedule_irq) ends it early: its CPU leaves cpu_idle to take it.
    // Contract: nothing can run (every CPU waits in cpu_idle, or no task is left), not inside a
    // host call, and `until` < 2^62.
    void pass_idle_time(uint64_t until);
    // Calls of write_text/write_text_bytes so far (the step debugger's `break on patch`).
    uint64_t text_writes() const { return m_text_writes; }
    // Times a CPU was started emulating so far (each costs Unicorn a pass over the exits); a
    // host call does not end emulation, so it adds none. For tests and benchmarks.
    uint64_t emulation_starts() const { return m_emulation_starts; }
    uint64_t cpu_instructions(int cpu) const;
    uint64_t cpu_cycles(int cpu) const;
    // Cycles the writer spent patching text through write_text() so far (the cache
    // maintenance of aarch64_insn_patch_text_nosync; emu/cpu_clock.h), on no CPU's clock.
    uint64_t text_patch_cycles() const { return m_text_patch_cycles; }
    const std::vector<Finding>& findings() const { return m_findings; }
    void add_finding(Finding f);
    // The finding emitter bound to this machine (finding_emitter.h): records a finding at `pc`
    // (symbolized) on `cpu`, for task id `task` (-1 or unknown: none), stamped with the clock.
    void report(std::string kind, Severity severity, GuestAddr pc, std::optional<int> cpu,
                int task, std::string message);
    // Where a finding at `pc` on `cpu` in task id `task` stands, now.
    FindingAt finding_at(GuestAddr pc, std::optional<int> cpu, int task) const;
    const std::vector<std::string>& log() const { return m_log; }
    void log_line(int cpu, std::string_view task, std::string_view text);

  private:
    struct Cpu;
    class CostCache;
    friend class HostCallContext;
    friend struct Cpu;

    explicit Machine(const MachineConfig& config);
    Result<void> boot();
    Result<void> map_region(std::string name, GuestAddr base, uint64_t size,
                            Perm perm = Perm::ReadWrite, bool holds_code = true);
    Result<void> protect(GuestRange pages, Perm perm, std::string what);
    Result<void> protect_sections(const LoadedObject& object);
    // Maps the deferred pages protect() gave a permission since the last call.
    Result<void> map_pending_pages();
    Result<GuestAddr> task_stack(std::string_view name);
    Result<void> check_duplicate_globals(const LoadedObject& object) const;
    void register_machine_host_calls();

    // Hook paths (noexcept, inside Unicorn).
    void on_code(Cpu& cpu, uint64_t pc) noexcept;
    // Every case on_code's fast path leaves out: stops, breakpoints, events, observers.
    [[gnu::noinline]] void on_code_full(Cpu& cpu, uint64_t pc) noexcept;
    bool slow_event(Cpu& cpu, uint64_t pc) noexcept;
    void on_trap(Cpu& cpu) noexcept;
    void on_mem_fault(Cpu& cpu, int access, bool unmapped, uint64_t addr, int size) noexcept;
    void on_mem_write(Cpu& cpu, uint64_t addr, int size) noexcept;
    bool on_protected_write(Cpu& cpu, uint64_t addr, int size, uint64_t value) noexcept;

    // Text guard (emu/text_guard.h; machine_guard.cpp).
    void guard_rescan(GuestAddr begin, GuestAddr end) noexcept;
    void push_exits() noexcept;
    enum class GuardStop { NotOurs, Trapped, Resume, Breakpoint };
    GuardStop guard_stop(Cpu& cpu);

    // Driver.
    int pick_cpu(uint64_t& slice_end);
    Result<bool> run_slice(Cpu& cpu, RunResult& out);
    void update_horizon(Cpu& cpu);
    bool irq_due(const Cpu& cpu) const;
    void enter_irq(Cpu& cpu);
    void handle_trap(Cpu& cpu);
    void handle_host_call(Cpu& cpu, uint16_t number, GuestAddr pc);
    // Reports a fatal finding at `pc` on `cpu`'s current task and kills that task.
    void kill_current(Cpu& cpu, std::string kind, GuestAddr pc, std::string message);
    Task* pick_next(Cpu& cpu);
    void switch_to(Cpu& cpu, Task& next, bool save_prev, uint64_t prev_resume_pc);
    void budget_findings();
    bool any_live_task() const;
    std::optional<uint64_t> waking_irq_at(const Cpu& cpu) const;
    void wake_cpus_for_irqs();
    uint64_t next_random();
    std::string symbolized(uint64_t pc) const;

    // Machine host calls.
    void hc_schedule(HostCallContext& ctx);
    void hc_task_exit(HostCallContext& ctx);
    void hc_printk(HostCallContext& ctx);
    void hc_irq(HostCallContext& ctx);
    void hc_idle(HostCallContext& ctx);
    void hc_ret_to_user(HostCallContext& ctx);
    void hc_patch_map(HostCallContext& ctx);
    void hc_patch_unmap(HostCallContext& ctx);

    // Concurrent modification (stale_fetch.h, text_poke_alias.h; machine_cmodx.cpp).
    void context_sync(Cpu& cpu) noexcept;
    void run_stale_word(Cpu& cpu, uint64_t pc, InsnWord word) noexcept;
    Result<void> apply_alias_stores(Cpu& cpu);
    Result<void> load_text_poke_code();
    // assemble(), through the config's memo when there is one.
    Result<ObjectBytes> assemble_source(std::string_view source, std::string_view name);

    MachineConfig m_config;
    GuestMemory m_memory;
    MemoryPermissions m_permissions;
    DeferredPages m_deferred;                // The kernel image area and every module allocation.
    std::vector<GuestRange> m_pending_pages; // Deferred pages with a permission, not yet mapped.
    SymbolTable m_symbols;
    // lines() reads m_unread_lines into m_lines: a cache, so both change under const.
    mutable std::vector<LineRow> m_lines;
    mutable std::vector<std::shared_ptr<const UnreadLineTable>> m_unread_lines;
    std::vector<std::unique_ptr<Cpu>> m_cpus;
    std::vector<std::unique_ptr<Task>> m_tasks;
    std::vector<ExecutionObserver*> m_observers;
    std::unordered_set<uint64_t> m_breakpoints;
    std::unordered_map<uint16_t, HostCallHandler> m_host_calls;
    std::unique_ptr<CostCache> m_costs;
    std::unique_ptr<TextGuard> m_guard;
    std::vector<Finding> m_findings;
    std::vector<std::string> m_log;

    // Guest entry points of the machine object.
    uint64_t m_ret_from_fork = 0;
    uint64_t m_user_entry = 0;
    uint64_t m_cpu_idle = 0;
    uint64_t m_el1_irq = 0;
    uint64_t m_eret_pc = 0;

    // Clock and run state.
    uint64_t m_clock = 0;
    uint64_t m_horizon = 0;     // Hook slow path when m_clock reaches it.
    uint64_t m_idle_time = 0;   // Of m_clock, what pass_idle_time added.
    uint64_t m_slice_end = 0;
    uint64_t m_run_end = 0;
    bool m_stop_requested = false;
    bool m_aborted = false;
    uint64_t m_text_writes = 0;
    std::vector<const DebugView*> m_debug_views;
    Cpu* m_in_hook = nullptr;   // The CPU whose Unicorn callback is running.
    bool m_in_host_call = false; // A host call handler is running (inside the trap callback).
    uint64_t m_emulation_starts = 0;
    uint64_t m_text_patch_cycles = 0;
    int m_rr_next = 0;
    uint64_t m_rng;
    size_t m_script_index = 0;

    // Address-space allocators.
    GuestAddr m_kernel_next = kKernelBase;
    GuestAddr m_near_next = kModuleNearBase;
    GuestAddr m_far_next = kModuleFarBase;
    std::vector<int> m_stack_owner; // Stack slot -> id of the task using it.
    std::vector<CfiSection> m_cfi_sections;

    // Concurrent modification of code.
    StaleFetchViews m_stale_views;
    TextPokeAlias m_alias;
    TextAliasWriter* m_alias_writer = nullptr;
    bool m_guest_text_write = false; // Inside apply_alias_stores: the guest pays its own barriers.
};

} // namespace klpemu::emu
