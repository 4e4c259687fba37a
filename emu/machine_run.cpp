// The machine's run loop: one host thread drives every CPU in slices chosen by a deterministic
// scheduler (round robin, seeded random interleaving, or scripted switch points), the global
// code hook counts instructions, charges cycles, feeds observers and decides when a CPU must stop
// (slice end, IRQ due, breakpoint, stop request); the driver then takes IRQs (the hardware half
// of exception entry), runs host calls and turns BRK, undefined instructions and faults into
// findings that kill the current task. Nothing here touches Unicorn directly.
#include "emu/machine.h"

#include "emu/insn_encoding.h"
#include "emu/machine_internal.h"
#include "emu/printable_text.h"

#include <algorithm>

namespace klpemu::emu {

namespace {
constexpr uint32_t kHvcMask = 0xffe0001f, kHvcBits = 0xd4000002; // hvc #imm16
constexpr uint32_t kBrkMask = 0xffe0001f, kBrkBits = 0xd4200000; // brk #imm16
constexpr uint16_t kPatchedBrkImm = 0x100;                       // AARCH64_BREAK_FAULT
constexpr uint64_t kNzcvMask = 0xf0000000ULL;
constexpr uint64_t kLoneCpuSlice = 1 << 20;
// pass_idle_time's bound: far below the clock's wrap, so that clock + quantum and the like cannot
// overflow (2^62 instructions are a century of simulated time at 10^9 a second).
constexpr uint64_t kIdleClockLimit = uint64_t(1) << 62;

// The word at `pc` as the CPU fetched it; 0 (never an HVC or BRK) where nothing is mapped.
uint32_t word_at(const GuestMemory& memory, uint64_t pc) {
    return memory.insn_word(GuestAddr(pc)).value_or(InsnWord(0)).raw;
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
} // namespace

uint64_t Machine::next_random() { return splitmix64(m_rng); }

// ---- hooks (inside Unicorn; noexcept) ----

// The boundary almost every instruction takes: nothing pending on this CPU or the machine, an
// instruction with no event and no SP fault, no observer. It does exactly what on_code_full does
// in that case (count, charge the clock) without the cold paths' register and stack traffic,
// which at ~100 M boundaries a second was a fifth of the hook's cost (bench/RESULTS.md).
void Machine::on_code(Cpu& cpu, uint64_t pc) noexcept {
    if (cpu.guard_pc == kNoPc && cpu.alias_stores.empty() && m_clock < m_horizon &&
        m_breakpoints.empty() && !cpu.sp_recheck && !cpu.isb_pending && m_observers.empty() &&
        !m_stop_requested && !m_stale_views.any(cpu.index)) [[likely]] {
        const CostCache::Entry& facts = m_costs->entry(pc);
        if (facts.events == 0 && !((facts.sp_flags & kSpMemAccess) && cpu.sp_misaligned)) [[likely]] {
            cpu.sp_recheck = (facts.sp_flags & kSpMayMisalign) != 0;
            cpu.last_pc = pc;
            ++m_clock;
            cpu.retire(*cpu.current, cpu.clock->instruction(pc, facts.cost, InsnWord(facts.word)));
            return;
        }
    }
    on_code_full(cpu, pc);
}

// The backend's code hook (a tail call).
void Machine::Cpu::on_code(uint64_t pc) noexcept { machine.on_code(*this, pc); }

void Machine::on_code_full(Cpu& cpu, uint64_t pc) noexcept {
    bool pass_breakpoint = false;
    if (cpu.guard_pc != kNoPc) [[unlikely]] {
        bool same = cpu.guard_pc == pc;
        cpu.guard_pc = kNoPc;
        if (same && cpu.guard_skip_all) {
            return;
        }
        pass_breakpoint = same;
    }
    if (!cpu.alias_stores.empty()) [[unlikely]] {
        // The store into the FIX_TEXT_POKE0 slot has completed: the driver applies it to text
        // before this instruction runs (machine_cmodx.cpp).
        cpu.last_pc = pc;
        cpu.stop_now(CpuStop::AliasStore);
        return;
    }
    if (m_clock >= m_horizon) [[unlikely]] {
        if (slow_event(cpu, pc)) {
            return;
        }
    }
    if (!m_breakpoints.empty() && !pass_breakpoint && m_breakpoints.count(pc)) [[unlikely]] {
        cpu.guard_pc = pc;
        cpu.guard_skip_all = false;
        cpu.last_pc = pc;
        cpu.stop_now(CpuStop::Breakpoint);
        return;
    }
    if (m_stale_views.any(cpu.index)) [[unlikely]] {
        if (auto word = m_stale_views.held(cpu.index, pc)) {
            run_stale_word(cpu, pc, *word); // The `old` outcome: not the word memory holds.
            return;
        }
    }
    const CostCache::Entry& facts = m_costs->entry(pc);
    if (facts.events & CostCache::kUserEntry) [[unlikely]] {
        context_sync(cpu); // SVC entry from EL0 (SCTLR_EL1.EIS): a syscall starts here.
    }
    if (cpu.sp_recheck) [[unlikely]] {
        cpu.sp_recheck = false;
        cpu.sp_misaligned = (cpu.backend->sp() & 15) != 0;
    }
    if (facts.sp_flags != 0) [[unlikely]] {
        if ((facts.sp_flags & kSpMemAccess) && cpu.sp_misaligned) {
            // The SP alignment fault happens before the access: the instruction does not run.
            Cpu::Fault f;
            f.sp_alignment = true;
            f.addr = cpu.backend->sp();
            f.pc = pc;
            cpu.fault = f;
            cpu.last_pc = pc;
            cpu.stop_now(CpuStop::Fault);
            return;
        }
        cpu.sp_recheck = (facts.sp_flags & kSpMayMisalign) != 0;
    }
    cpu.last_pc = pc;
    const uint64_t before = m_clock++;
    Task& t = *cpu.current;
    uint64_t cost = 0;
    if (cpu.isb_pending) [[unlikely]] {
        cpu.isb_pending = false;
        cost += cpu.clock->isb();
    }
    cost += cpu.clock->instruction(pc, facts.cost, InsnWord(facts.word));
    const bool eret = (facts.events & CostCache::kEret) != 0;
    if (eret) [[unlikely]] {
        cost += cpu.clock->exception_return();
    }
    cpu.retire(t, cost);
    if (eret) [[unlikely]] {
        cpu.irq_masked = false;
        m_horizon = m_clock; // A pending IRQ may now be taken.
        const GuestAddr target(cpu.backend->sysreg(SysReg::ElrEl1));
        for (ExecutionObserver* o : m_observers) {
            o->on_exception_return(cpu.index, t.id, ExceptionKind::Irq, target);
        }
    }
    if (!m_observers.empty()) {
        InsnEvent ev{cpu.index, t.id, GuestAddr(pc), InsnWord(word_at(m_memory, pc)), before};
        m_in_hook = &cpu;
        for (ExecutionObserver* o : m_observers) {
            o->on_instruction(ev);
        }
        m_in_hook = nullptr;
    }
    if (facts.events & (CostCache::kEret | CostCache::kIsb)) [[unlikely]] {
        context_sync(cpu); // From the next instruction on, this CPU fetches memory's words.
    }
    if (m_stop_requested) [[unlikely]] {
        if (cpu.guard_pc == kNoPc) {
            cpu.guard_pc = pc;
            cpu.guard_skip_all = true;
        }
        cpu.stop_now(CpuStop::Observer);
    }
}

bool Machine::irq_due(const Cpu& cpu) const {
    if (!cpu.scripted_irqs.empty() && cpu.scripted_irqs.front() <= m_clock) {
        return true;
    }
    return cpu.next_timer != 0 && cpu.instructions >= cpu.next_timer;
}

void Machine::update_horizon(Cpu& cpu) {
    uint64_t h = m_slice_end;
    if (irq_due(cpu)) {
        h = m_clock + (cpu.irq_masked ? 1 : 0); // Masked: look again at every boundary.
    } else {
        if (!cpu.scripted_irqs.empty()) {
            h = std::min(h, cpu.scripted_irqs.front());
        }
        if (cpu.next_timer != 0) {
            h = std::min(h, m_clock + (cpu.next_timer - cpu.instructions));
        }
    }
    m_horizon = h;
}

bool Machine::slow_event(Cpu& cpu, uint64_t pc) noexcept {
    if (!cpu.irq_masked && irq_due(cpu)) {
        cpu.last_pc = pc;
        cpu.stop_now(CpuStop::Irq);
        return true;
    }
    if (m_clock >= m_slice_end) {
        cpu.last_pc = pc;
        cpu.stop_now(CpuStop::Slice);
        return true;
    }
    update_horizon(cpu);
    return false;
}

// A host call runs here, inside the trap callback, and emulation goes on at the PC the handler
// leaves without ending the run: starting emulation again costs Unicorn 2.0.1 a pass over every
// exit (text guard trap) besides its own set-up, and host calls are the commonest reason a run
// ends (a livepatch transition makes hundreds of thousands). The CPU stops only where the
// driver would not start it again at once: a stop request, a halted CPU, the slice's end. What
// the handler does is what it did from the driver; only the round trip is gone. Every other
// trap (BRK, UDEF, SVC) stops the CPU and is handled by the driver.
void Machine::on_trap(Cpu& cpu) noexcept {
    cpu.trap_pc = cpu.backend->pc();
    if (cpu.trap_kind == TrapKind::Undefined) {
        const uint32_t word = word_at(m_memory, cpu.trap_pc);
        if ((word & kHvcMask) == kHvcBits) {
            m_in_host_call = true;
            handle_host_call(cpu, uint16_t((word >> 5) & 0xffff), GuestAddr(cpu.trap_pc));
            m_in_host_call = false;
            if (m_stop_requested || cpu.halted || m_clock >= m_slice_end) {
                cpu.stop_now(CpuStop::HostCall);
                return;
            }
            update_horizon(cpu); // As the driver does before it resumes a CPU.
            return;
        }
    }
    cpu.stop_now(CpuStop::Trap);
}

void Machine::on_mem_fault(Cpu& cpu, int access, bool unmapped, uint64_t addr, int size) noexcept {
    Cpu::Fault f;
    f.access = access;
    f.unmapped = unmapped;
    f.addr = addr;
    f.size = size;
    f.pc = access == int(MemAccess::Fetch) ? addr : cpu.last_pc;
    cpu.fault = f;
    cpu.stop = CpuStop::Fault;
}

void Machine::on_mem_write(Cpu& cpu, uint64_t addr, int size) noexcept {
    m_in_hook = &cpu;
    for (ExecutionObserver* o : m_observers) {
        o->on_memory_write(cpu.index, GuestAddr(cpu.last_pc), GuestAddr(addr), size);
    }
    m_in_hook = nullptr;
    if (m_stop_requested) {
        cpu.stop_now(CpuStop::Observer);
    }
}

// ---- driver ----

bool Machine::any_live_task() const {
    return std::any_of(m_tasks.begin(), m_tasks.end(), [](const std::unique_ptr<Task>& t) {
        return t->kind != TaskKind::Idle && !t->finished();
    });
}

int Machine::pick_cpu(uint64_t& slice_end) {
    const int n = cpu_count();
    const uint64_t quantum = m_config.scheduling.quantum;
    auto round_robin = [&](uint64_t limit) {
        for (int i = 0; i < n; ++i) {
            int c = (m_rr_next + i) % n;
            if (!m_cpus[size_t(c)]->halted) {
                m_rr_next = (c + 1) % n;
                slice_end = std::min(limit, m_clock + quantum);
                return c;
            }
        }
        return -1;
    };
    switch (m_config.scheduling.kind) {
    case ScheduleKind::RoundRobin: {
        // A lone runnable CPU needs no interleaving: give it long slices (stopping costs ~µs).
        int c = round_robin(UINT64_MAX);
        int runnable = 0;
        for (auto& cpu : m_cpus) {
            runnable += cpu->halted ? 0 : 1;
        }
        if (c >= 0 && runnable == 1) {
            slice_end = m_clock + std::max<uint64_t>(quantum, kLoneCpuSlice);
        }
        return c;
    }
    case ScheduleKind::Random: {
        int runnable[kMaxCpus];
        int count = 0;
        for (int c = 0; c < n; ++c) {
            if (!m_cpus[size_t(c)]->halted) {
                runnable[count++] = c;
            }
        }
        if (count == 0) {
            return -1;
        }
        int c = runnable[next_random() % uint64_t(count)];
        slice_end = m_clock + 1 + next_random() % quantum;
        return c;
    }
    case ScheduleKind::Scripted: {
        const auto& points = m_config.scheduling.switch_points;
        while (m_script_index < points.size() && points[m_script_index].at_instruction <= m_clock) {
            ++m_script_index;
        }
        int c = m_script_index == 0 ? 0 : points[m_script_index - 1].cpu;
        uint64_t boundary = m_script_index < points.size() ? points[m_script_index].at_instruction
                                                           : UINT64_MAX;
        if (m_script_index == points.size() && m_script_index > 0) {
            return round_robin(UINT64_MAX); // Script over.
        }
        if (c >= 0 && c < n && !m_cpus[size_t(c)]->halted) {
            slice_end = boundary;
            return c;
        }
        return round_robin(boundary);
    }
    }
    return -1;
}

Result<RunResult> Machine::run(uint64_t max_instructions) {
    // Host calls run inside Unicorn's trap callback (on_trap): a handler cannot run the machine.
    KLP_CHECK(!m_in_host_call, "machine: run() called from a host call handler");
    if (m_aborted) {
        return make_error("machine: run abandoned (the debugger dropped this session)");
    }
    KLP_TRY(map_pending_pages());
    m_stop_requested = false;
    m_run_end = max_instructions >= UINT64_MAX - m_clock ? UINT64_MAX : m_clock + max_instructions;
    RunResult out;
    while (true) {
        wake_cpus_for_irqs();
        if (!any_live_task()) {
            out.reason = StopReason::AllTasksFinished;
            return out;
        }
        if (executed_instructions() >= m_config.instruction_budget) {
            budget_findings();
            out.reason = StopReason::BudgetExhausted;
            return out;
        }
        if (m_clock >= m_run_end) {
            out.reason = StopReason::InstructionLimit;
            return out;
        }
        uint64_t slice_end = UINT64_MAX;
        int c = pick_cpu(slice_end);
        if (c < 0) {
            out.reason = StopReason::AllBlocked;
            return out;
        }
        const uint64_t budget_end = m_config.instruction_budget > UINT64_MAX - m_idle_time
                                        ? UINT64_MAX
                                        : m_config.instruction_budget + m_idle_time;
        m_slice_end = std::min({slice_end, m_run_end, budget_end});
        KLP_TRY_ASSIGN(stopped, run_slice(*m_cpus[size_t(c)], out));
        if (stopped) {
            return out;
        }
    }
}

// The clock of the next scripted IRQ that can wake `cpu` from cpu_idle's wfi; none while its
// idle task is dead (the CPU stays stopped).
std::optional<uint64_t> Machine::waking_irq_at(const Cpu& cpu) const {
    if (cpu.idle->state == TaskState::Killed || cpu.scripted_irqs.empty()) {
        return std::nullopt;
    }
    return cpu.scripted_irqs.front();
}

// An interrupt wakes a CPU from cpu_idle's wfi: a halted CPU with a scripted IRQ due runs again
// (its idle task takes the IRQ at its next boundary).
void Machine::wake_cpus_for_irqs() {
    for (auto& cpu : m_cpus) {
        if (const auto at = waking_irq_at(*cpu); cpu->halted && at && *at <= m_clock) {
            cpu->halted = false;
        }
    }
}

void Machine::pass_idle_time(uint64_t until) {
    KLP_CHECK(!m_in_host_call, "machine: pass_idle_time() called from a host call handler");
    KLP_CHECK(!any_live_task() || std::all_of(m_cpus.begin(), m_cpus.end(),
                                              [](const auto& c) { return c->halted; }),
              "machine: pass_idle_time() while a CPU can run");
    KLP_CHECK(until < kIdleClockLimit, "machine: pass_idle_time({}) past the clock's range", until);
    for (const auto& cpu : m_cpus) { // A scripted IRQ ends the idle time (wake_cpus_for_irqs).
        if (const auto at = waking_irq_at(*cpu)) {
            until = std::min(until, *at);
        }
    }
    if (until > m_clock) {
        m_idle_time += until - m_clock;
        m_clock = until;
    }
}

Result<bool> Machine::run_slice(Cpu& cpu, RunResult& out) {
    while (m_clock < m_slice_end && !cpu.halted) {
        update_horizon(cpu);
        cpu.stop = CpuStop::None;
        cpu.fault.reset();
        const uint64_t pc = cpu.backend->pc();
        ++m_emulation_starts;
        auto r = cpu.backend->run(GuestAddr(pc));
        if (!cpu.alias_stores.empty()) {
            KLP_TRY(apply_alias_stores(cpu)); // The storing instruction has completed.
        }
        if (cpu.fault) {
            const Cpu::Fault f = *cpu.fault;
            static constexpr const char* kAccess[] = {"read", "write", "fetch"};
            if (f.sp_alignment) {
                kill_current(
                    cpu, "misaligned-sp", GuestAddr(f.pc),
                    fmt::format("SP alignment fault: access through sp = {:#018x}", f.addr));
            } else {
                std::string message = fmt::format("{} {} of {} bytes at {:#018x}",
                                                  f.unmapped ? "unmapped" : "protection fault on",
                                                  kAccess[f.access], f.size, f.addr);
                if (const auto* page = m_permissions.at(GuestAddr(f.addr)); page && !f.unmapped) {
                    message += fmt::format(" ({}, {} {})", symbolized(f.addr), page->what,
                                           perm_str(page->perm));
                }
                kill_current(cpu, f.unmapped ? "unmapped-access" : "protection-fault",
                             GuestAddr(f.pc), std::move(message));
            }
            continue;
        }
        if (!r) {
            return make_error("machine: cpu{} at {}: {}", cpu.index, symbolized(pc), r.error().message);
        }
        if (cpu.stop == CpuStop::None) {
            // No hook asked for this stop: the text guard's exit (emu/text_guard.h).
            switch (guard_stop(cpu)) {
            case GuardStop::Trapped:
            case GuardStop::Resume:
                continue;
            case GuardStop::Breakpoint:
                out.reason = StopReason::Breakpoint;
                out.cpu = cpu.index;
                out.pc = GuestAddr(cpu.last_pc);
                return true;
            case GuardStop::NotOurs:
                break;
            }
        }
        switch (cpu.stop) {
        case CpuStop::None:
        case CpuStop::Fault:
            return make_error("machine: cpu{} stopped at {} without a reason", cpu.index,
                              symbolized(cpu.backend->pc()));
        case CpuStop::Slice: return false;
        case CpuStop::AliasStore:
            break; // Applied above.
        case CpuStop::Irq: enter_irq(cpu); break;
        case CpuStop::Breakpoint:
            out.reason = StopReason::Breakpoint;
            out.cpu = cpu.index;
            out.pc = GuestAddr(cpu.last_pc);
            return true;
        case CpuStop::Observer:
            out.reason = StopReason::StopRequested;
            out.cpu = cpu.index;
            out.pc = GuestAddr(cpu.backend->pc());
            return true;
        case CpuStop::Trap:
            handle_trap(cpu);
            [[fallthrough]];
        case CpuStop::HostCall: // Handled inside the trap callback (on_trap).
            if (m_stop_requested) {
                out.reason = StopReason::StopRequested;
                out.cpu = cpu.index;
                out.pc = GuestAddr(cpu.backend->pc());
                return true;
            }
            break;
        }
    }
    return false;
}

void Machine::enter_irq(Cpu& cpu) {
    if (!cpu.scripted_irqs.empty() && cpu.scripted_irqs.front() <= m_clock) {
        cpu.scripted_irqs.erase(cpu.scripted_irqs.begin());
    } else if (cpu.next_timer != 0 && cpu.instructions >= cpu.next_timer) {
        cpu.next_timer = cpu.instructions + m_config.irq_timer_period;
    }
    // The hardware half of exception entry (the guest's el1_irq does kernel_entry).
    UnicornBackend& b = *cpu.backend;
    const uint64_t pc = b.pc();
    b.set_sysreg(SysReg::ElrEl1, pc);
    b.set_sysreg(SysReg::SpsrEl1, b.pstate());
    b.set_pc(m_el1_irq);
    cpu.guard_pc = kNoPc;
    cpu.irq_masked = true;
    ++cpu.exceptions;
    const uint64_t entry = cpu.clock->exception_entry();
    cpu.cycles += entry;
    cpu.current->cycles += entry;
    for (ExecutionObserver* o : m_observers) {
        o->on_exception_entry(cpu.index, cpu.current->id, ExceptionKind::Irq, GuestAddr(pc));
    }
    context_sync(cpu); // Exception entry is context-synchronising (SCTLR_EL1.EIS).
}

void Machine::handle_trap(Cpu& cpu) {
    const uint64_t pc = cpu.trap_pc;
    const uint32_t word = word_at(m_memory, pc);
    if (cpu.trap_kind == TrapKind::Breakpoint && (word & kBrkMask) == kBrkBits) {
        const uint16_t imm = uint16_t((word >> 5) & 0xffff);
        if (imm == kPatchedBrkImm) {
            kill_current(cpu, "patched-brk", GuestAddr(pc), "patched BRK executed");
        } else {
            kill_current(cpu, "brk", GuestAddr(pc), fmt::format("BRK #{:#x} executed", imm));
        }
    } else if (cpu.trap_kind == TrapKind::Syscall) {
        kill_current(cpu, "unexpected-svc", GuestAddr(pc - 4), "SVC executed in kernel mode");
    } else {
        kill_current(cpu, "undefined-instruction", GuestAddr(pc),
                     fmt::format("undefined instruction {:08x}", word));
    }
}

void Machine::handle_host_call(Cpu& cpu, uint16_t number, GuestAddr pc) {
    Task& t = *cpu.current;
    cpu.cycles += kHostCallCycles;
    t.cycles += kHostCallCycles;
    for (ExecutionObserver* o : m_observers) {
        o->on_host_call(cpu.index, t.id, number);
    }
    auto it = m_host_calls.find(number);
    if (it == m_host_calls.end()) {
        kill_current(cpu, "unknown-host-call", pc,
                     fmt::format("hvc #{:#x} has no host handler", number));
        return;
    }
    HostCallContext ctx(*this, cpu.index, t, number, pc);
    it->second(ctx);
    if (!ctx.switched()) {
        cpu.backend->set_pc(ctx.next_pc().value);
    }
    cpu.guard_pc = kNoPc;
}

void Machine::kill_current(Cpu& cpu, std::string kind, GuestAddr pc, std::string message) {
    Task& t = *cpu.current;
    report(std::move(kind), Severity::Fatal, pc, cpu.index, t.id, std::move(message));
    if (t.kind == TaskKind::Idle) {
        t.state = TaskState::Killed;
        cpu.halted = true; // A dead idle task leaves its CPU stopped.
        return;
    }
    t.state = TaskState::Killed;
    Task* next = pick_next(cpu);
    switch_to(cpu, *next, false, 0);
}

Task* Machine::pick_next(Cpu& cpu) {
    Task* cur = cpu.current;
    auto eligible = [&](const Task& t) {
        return t.cpu == cpu.index && t.kind != TaskKind::Idle &&
               (t.state == TaskState::Runnable || (&t == cur && t.state == TaskState::Running));
    };
    const int n = int(m_tasks.size());
    const int start = cur ? cur->id : 0;
    for (int i = 1; i <= n; ++i) {
        Task& t = *m_tasks[size_t((start + i) % n)];
        if (eligible(t)) {
            return &t;
        }
    }
    return cpu.idle;
}

// cpu_switch_to: save the callee-saved context of `prev` (resuming at prev_resume_pc) and load
// `next`'s. Caller-saved registers are zeroed so nothing leaks between tasks.
void Machine::switch_to(Cpu& cpu, Task& next, bool save_prev, uint64_t prev_resume_pc) {
    Task* prev = cpu.current;
    UnicornBackend& b = *cpu.backend;
    CpuState s = b.state();
    if (save_prev && prev) {
        for (size_t i = 0; i < 10; ++i) {
            prev->saved.x19_x28[i] = s.x[19 + i];
        }
        prev->saved.fp = s.x[29];
        prev->saved.lr = s.x[30];
        prev->saved.sp = s.sp;
        prev->saved.pc = prev_resume_pc;
        prev->saved.irq_masked = cpu.irq_masked;
    }
    if (prev && prev->state == TaskState::Running) {
        prev->state = TaskState::Runnable;
    }
    CpuState n;
    for (size_t i = 0; i < 10; ++i) {
        n.x[19 + i] = next.saved.x19_x28[i];
    }
    n.x[29] = next.saved.fp;
    n.x[30] = next.saved.lr;
    n.sp = next.saved.sp;
    n.pc = next.saved.pc;
    n.pstate = s.pstate & ~kNzcvMask;
    b.set_state(n);
    cpu.irq_masked = next.saved.irq_masked;
    cpu.sp_recheck = true;
    cpu.current = &next;
    if (next.state == TaskState::Runnable) {
        next.state = TaskState::Running;
    }
    cpu.guard_pc = kNoPc;
    for (ExecutionObserver* o : m_observers) {
        o->on_task_switch(cpu.index, prev ? prev->id : -1, next.id);
    }
}

void Machine::budget_findings() {
    for (auto& cpu : m_cpus) {
        if (cpu->halted) {
            continue;
        }
        const uint64_t pc = cpu->backend->pc();
        report("budget-exhausted", Severity::Error, GuestAddr(pc), cpu->index, cpu->current->id,
               fmt::format("instruction budget of {} exhausted; cpu{} ({}) at {}",
                           m_config.instruction_budget, cpu->index, cpu->current->name,
                           symbolized(pc)));
    }
}

// ---- machine host calls ----

void Machine::register_machine_host_calls() {
    register_host_call(hc::kSchedule, [this](HostCallContext& c) { hc_schedule(c); });
    register_host_call(hc::kTaskExit, [this](HostCallContext& c) { hc_task_exit(c); });
    register_host_call(hc::kPrintk, [this](HostCallContext& c) { hc_printk(c); });
    register_host_call(hc::kIrq, [this](HostCallContext& c) { hc_irq(c); });
    register_host_call(hc::kIdle, [this](HostCallContext& c) { hc_idle(c); });
    register_host_call(hc::kRetToUser, [this](HostCallContext& c) { hc_ret_to_user(c); });
    register_host_call(hc::kPatchMap, [this](HostCallContext& c) { hc_patch_map(c); });
    register_host_call(hc::kPatchUnmap, [this](HostCallContext& c) { hc_patch_unmap(c); });
}

// schedule(): a task whose __state is not TASK_RUNNING sleeps (try_to_block_task). Without a
// timer nothing but a wake_up() ends that sleep, so it blocks (off the runqueue: its CPU may
// idle). With a timer armed it yields and stays runnable: the clock only moves while
// instructions run, so a timed sleeper waits by being switched out and in again until its timer
// has passed. Not for a preemption (el1_interrupt's call), which leaves the task runnable
// whatever its state, nor for an interruptible sleeper with a signal pending, which is made
// TASK_RUNNING instead (signal_pending_state).
void Machine::hc_schedule(HostCallContext& ctx) {
    Cpu& cpu = *m_cpus[size_t(ctx.cpu())];
    Task& current = ctx.task();
    const bool preempt = std::exchange(cpu.preempting, false);
    if (!preempt && current.sleep_state != 0 && current.kind != TaskKind::Idle) {
        if ((current.sleep_state & kTaskInterruptible) && current.tif_notify_signal) {
            current.sleep_state = 0;
        } else if (current.timer_at == kNoTimer) {
            current.state = TaskState::Blocked;
        }
    }
    Task* next = pick_next(cpu);
    if (next == cpu.current) {
        return;
    }
    switch_to(cpu, *next, true, ctx.next_pc().value);
    ctx.mark_switched();
}

void Machine::wake_up(int id) {
    Task& t = task(id);
    t.sleep_state = 0;
    t.timer_at = kNoTimer;
    if (t.state == TaskState::Blocked) {
        t.state = TaskState::Runnable;
        Cpu& cpu = *m_cpus[size_t(t.cpu)];
        if (cpu.halted) {
            // The kernel's reschedule IPI: a CPU running a lone-CPU slice (kLoneCpuSlice) ends
            // it within a quantum, so that the woken CPU is interleaved again.
            cpu.halted = false;
            m_slice_end = std::min(m_slice_end, m_clock + m_config.scheduling.quantum);
            m_horizon = std::min(m_horizon, m_slice_end);
        }
    }
}

void Machine::hc_task_exit(HostCallContext& ctx) {
    Cpu& cpu = *m_cpus[size_t(ctx.cpu())];
    Task& t = ctx.task();
    t.exit_value = ctx.arg(0);
    t.state = TaskState::Exited;
    switch_to(cpu, *pick_next(cpu), false, 0);
    ctx.mark_switched();
}

void Machine::hc_printk(HostCallContext& ctx) {
    // A small printk: %d %u %x %lx %ld %lu %llx %s %c %p %%, arguments from x1. The record is
    // made printable as /dev/kmsg does (emu/printable_text.h): guest bytes are arbitrary.
    auto read_string = [&](uint64_t addr) {
        std::string s;
        for (uint64_t i = 0; i < 512; ++i) {
            const uint8_t* p = m_memory.host_ptr(GuestAddr(addr + i), 1);
            if (!p || *p == 0) {
                break;
            }
            s.push_back(char(*p));
        }
        return s;
    };
    const std::string format = read_string(ctx.arg(0));
    std::string out;
    int next_arg = 1;
    for (size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%' || i + 1 >= format.size()) {
            out.push_back(format[i]);
            continue;
        }
        size_t j = i + 1;
        while (j < format.size() && format[j] == 'l') {
            ++j;
        }
        const char conv = j < format.size() ? format[j] : '%';
        const uint64_t v = next_arg <= 7 ? ctx.arg(next_arg) : 0;
        switch (conv) {
        case 'd': out += fmt::format("{}", int64_t(j == i + 1 ? int64_t(int32_t(v)) : int64_t(v))); ++next_arg; break;
        case 'u': out += fmt::format("{}", v); ++next_arg; break;
        case 'x': out += fmt::format("{:x}", v); ++next_arg; break;
        case 'p': out += symbolized(v); ++next_arg; break;
        case 's': out += read_string(v); ++next_arg; break;
        case 'c':
            out.push_back(char(v));
            ++next_arg;
            break;
        case '%': out.push_back('%'); break;
        default: out += format.substr(i, j - i + 1); break;
        }
        i = j;
    }
    while (!out.empty() && out.back() == '\n') {
        out.pop_back();
    }
    log_line(ctx.cpu(), ctx.task().name, printable_log_text(out));
}

void Machine::hc_irq(HostCallContext& ctx) {
    Cpu& cpu = *m_cpus[size_t(ctx.cpu())];
    Task* next = pick_next(cpu);
    cpu.preempting = next != cpu.current;
    ctx.set_result(cpu.preempting ? 1 : 0); // need_resched
}

void Machine::hc_idle(HostCallContext& ctx) {
    Cpu& cpu = *m_cpus[size_t(ctx.cpu())];
    if (pick_next(cpu) == cpu.idle && !irq_due(cpu)) {
        cpu.halted = true; // wfi: wait until a task becomes runnable here or an IRQ comes.
    }
}

void Machine::hc_ret_to_user(HostCallContext& ctx) {
    Task& t = ctx.task();
    ++t.syscalls;
    for (ExecutionObserver* o : m_observers) {
        o->on_return_to_user(ctx.cpu(), t.id);
    }
    // The ERET to EL0 that ends the syscall is context-synchronising (SCTLR_EL1.EOS).
    context_sync(*m_cpus[size_t(ctx.cpu())]);
}

} // namespace klpemu::emu
