// Machine setup: the memory map, the CPUs, booting the guest machine object, loading images,
// creating tasks with their v6.13+ terminal frames, and the one text-write path. The run loop,
// hooks, exceptions and host calls are in machine_run.cpp.
#include "emu/machine.h"

#include "emu/assembler.h"
#include "emu/finding_kinds.h"
#include "emu/line_table_reader.h"
#include "emu/loader.h"
#include "emu/machine_internal.h"
#include "emu/text_guard.h"

#include <algorithm>
#include <map>

namespace klpemu::emu {

std::string_view embedded_guest_source(std::string_view file_name);

namespace {
// The machine object, assembled and loaded at boot in this order.
constexpr std::string_view kGuestFiles[] = {"sched.S", "entry.S"};
constexpr uint64_t kStackSlot = 2 * kThreadSize; // 16 KiB stack + 16 KiB unmapped guard.
} // namespace

std::string_view stop_reason_name(StopReason r) {
    switch (r) {
    case StopReason::AllTasksFinished: return "all-tasks-finished";
    case StopReason::InstructionLimit: return "instruction-limit";
    case StopReason::BudgetExhausted: return "budget-exhausted";
    case StopReason::Breakpoint: return "breakpoint";
    case StopReason::StopRequested: return "stop-requested";
    case StopReason::AllBlocked: return "all-blocked";
    }
    return "?";
}

Machine::Machine(const MachineConfig& config)
    : m_config(config), m_rng(config.seed), m_stale_views(config.cpus) {
    m_deferred.add_area(GuestRange{kKernelBase, kKernelBase + int64_t(kKernelSize)});
}

Machine::~Machine() = default;

Result<std::unique_ptr<Machine>> Machine::create(const MachineConfig& config) {
    if (config.cpus < 1 || config.cpus > kMaxCpus) {
        return make_error("machine: {} CPUs requested; 1..{} are supported", config.cpus, kMaxCpus);
    }
    if (config.scheduling.quantum == 0) {
        return make_error("machine: scheduling quantum must be at least 1 instruction");
    }
    std::unique_ptr<Machine> m(new Machine(config));
    std::shared_ptr<const CycleModel> model;
    if (config.cycle_models) {
        auto pooled = config.cycle_models->acquire(config.core);
        if (!pooled) {
            return make_error("machine: {}", pooled.error().message);
        }
        model = std::move(*pooled);
    } else {
        auto made = CycleModel::create(config.core);
        if (!made) {
            return make_error("machine: {}", made.error().message);
        }
        model = std::make_shared<const CycleModel>(std::move(*made));
    }
    m->m_costs = std::make_unique<CostCache>(m->m_memory, std::move(model));
    BackendOptions options;
    options.code_hook = config.code_hook;
    options.mem_write_hook = config.observe_memory_writes;
    options.data_access_hook = config.data_cache && config.code_hook;
    if (config.text_guard) {
        m->m_guard = std::make_unique<TextGuard>(m->m_memory, m->m_permissions);
        Machine* self = m.get();
        m->m_memory.set_write_listener(
            [self](GuestAddr a, uint64_t n) { self->guard_rescan(a, a + int64_t(n)); });
    }
    for (int i = 0; i < config.cpus; ++i) {
        auto cpu = std::make_unique<Cpu>(*m, i);
        auto backend = UnicornBackend::create(options, cpu.get());
        if (!backend) {
            return backend.error();
        }
        cpu->backend = std::move(*backend);
        auto clock = CpuClock::create(m->m_costs->model(), config.cycles, config.data_cache);
        if (!clock) {
            return make_error("machine: {}", clock.error().message);
        }
        cpu->clock = std::move(*clock);
        if (config.irq_timer_period) {
            cpu->next_timer = config.irq_timer_period;
        }
        m->m_cpus.push_back(std::move(cpu));
    }
    // The host holds the whole image area; the CPUs map only what objects are loaded into
    // (emu/deferred_pages.h), page runs at a time, in protect().
    KLP_TRY(m->m_memory.add_region("kernel", kKernelBase, kKernelSize));
    m->m_permissions.set(GuestRange{kKernelBase, kKernelBase + int64_t(kKernelSize)}, Perm::None,
                         "kernel image (unmapped)");
    for (int i = 0; i < config.cpus; ++i) {
        KLP_TRY(m->map_region(fmt::format("irq_stack:{}", i),
                              kIrqStackBase + int64_t(uint64_t(i) * kStackSlot), kThreadSize,
                              Perm::ReadWrite, /*holds_code=*/false));
    }
    m->register_machine_host_calls();
    KLP_TRY(m->boot());
    return m;
}

Result<void> Machine::map_region(std::string name, GuestAddr base, uint64_t size, Perm perm,
                                 bool holds_code) {
    KLP_TRY_ASSIGN(region, m_memory.add_region(name, base, size, holds_code));
    for (auto& cpu : m_cpus) {
        KLP_TRY(cpu->backend->map(base, size, region->host, uint32_t(perm)));
    }
    m_permissions.set(GuestRange{base, base + int64_t(size)}, perm, std::move(name));
    return {};
}

// Pages the CPUs map already change permission at once; deferred pages not mapped yet wait
// for map_pending_pages (deferred_pages.h).
Result<void> Machine::protect(GuestRange pages, Perm perm, std::string what) {
    for (const DeferredPages::Run& run : m_deferred.runs(pages)) {
        if (!run.mapped) {
            m_pending_pages.push_back(run.pages);
            continue;
        }
        for (auto& cpu : m_cpus) {
            KLP_TRY(cpu->backend->protect(run.pages.begin, run.pages.size(), uint32_t(perm)));
        }
    }
    m_permissions.set(pages, perm, std::move(what));
    guard_rescan(pages.begin, pages.end); // Only executable pages are guarded.
    return {};
}

// Maps the pending pages before the CPUs run. Pages that end up with the same permission in
// the same area become one Unicorn region, whichever objects and sections they came from: an
// image of several objects costs a few regions, not one per section (each region makes every
// later map, unmap and the final uc_close dearer).
Result<void> Machine::map_pending_pages() {
    if (m_pending_pages.empty()) {
        return {};
    }
    std::sort(m_pending_pages.begin(), m_pending_pages.end());
    struct Piece {
        GuestRange pages;
        Perm perm;
        const GuestRange* area;
    };
    std::vector<Piece> pieces;
    GuestAddr done = m_pending_pages.front().begin; // Pending ranges may overlap.
    for (const GuestRange& r : m_pending_pages) {
        for (GuestAddr p = std::max(r.begin, done); p < r.end; p += int64_t(kPageSize)) {
            if (m_deferred.is_mapped(p)) {
                continue; // Mapped by an earlier flush: a piece never spans it.
            }
            const MemoryPermissions::Entry* e = m_permissions.at(p);
            KLP_CHECK(e != nullptr, "machine: pending page {} has no permission", p);
            const GuestRange* area = m_deferred.area_of(p);
            if (!pieces.empty() && pieces.back().pages.end == p && pieces.back().perm == e->perm &&
                pieces.back().area == area) {
                pieces.back().pages.end = p + int64_t(kPageSize);
            } else {
                pieces.push_back(Piece{GuestRange{p, p + int64_t(kPageSize)}, e->perm, area});
            }
        }
        done = std::max(done, r.end);
    }
    for (const Piece& piece : pieces) {
        const GuestRange& r = piece.pages;
        for (auto& cpu : m_cpus) {
            // On an error the pages not marked stay pending; the run that asked fails with it.
            KLP_TRY(cpu->backend->map(r.begin, r.size(), m_memory.host_ptr(r.begin, r.size()),
                                      uint32_t(piece.perm)));
        }
        m_deferred.mark_mapped(r);
    }
    m_pending_pages.clear();
    return {};
}

// Strict RWX for a loaded object: each section's pages get its kind's permission. The loader
// starts every group (text, rodata, data, bss) on a new page, so pages are never shared by
// sections that need different permissions; if they were, the page gets the union.
Result<void> Machine::protect_sections(const LoadedObject& object) {
    std::map<uint64_t, std::pair<Perm, std::string>> pages;
    for (const PlacedSection& s : object.sections) {
        if (s.range.size() == 0) {
            continue;
        }
        const Perm perm = section_permission(s.kind);
        for (GuestAddr p = s.range.begin.align_down(kPageSize); p < s.range.end;
             p += int64_t(kPageSize)) {
            auto [it, inserted] = pages.try_emplace(p.value, perm, object.name + ":" + s.name);
            if (!inserted) {
                it->second.first = it->second.first | perm;
            }
        }
    }
    // One protect call per run of pages with the same permission and section.
    for (auto it = pages.begin(); it != pages.end();) {
        auto run_end = std::next(it);
        uint64_t end = it->first + kPageSize;
        while (run_end != pages.end() && run_end->first == end && run_end->second == it->second) {
            end += kPageSize;
            ++run_end;
        }
        KLP_TRY(protect(GuestRange{GuestAddr(it->first), GuestAddr(end)}, it->second.first,
                        it->second.second));
        it = run_end;
    }
    // A module allocation is mapped whole: its sections' pages with their permissions, any
    // page no section holds as module_alloc gave it (read/write).
    const GuestRange* pushed = nullptr; // `pages` is by address: an area's pages are adjacent.
    for (const auto& [page, perm] : pages) {
        const GuestRange* area = m_deferred.area_of(GuestAddr(page));
        if (area != nullptr && area != pushed && !area->contains(kKernelBase) &&
            !m_deferred.is_mapped(area->begin)) {
            m_pending_pages.push_back(*area);
            pushed = area;
        }
    }
    if (m_in_host_call || m_in_hook != nullptr) {
        KLP_TRY(map_pending_pages()); // Guest code is running: it may touch them at once.
    }
    return {};
}

Result<void> Machine::boot() {
    for (std::string_view file : kGuestFiles) {
        std::string source(embedded_guest_source(file));
        KLP_CHECK(!source.empty(), "guest source {} is not embedded", file);
        source = era_guest_prelude(era_info(m_config.era), file) + source;
        auto loaded = load_assembly(source, file, ObjectKind::Kernel);
        if (!loaded) {
            return make_error("machine: booting guest object {}: {}", file, loaded.error().message);
        }
    }
    auto need = [&](std::string_view name) -> Result<uint64_t> {
        KLP_TRY_ASSIGN(a, symbol(name));
        return a.value;
    };
    auto set = [&](uint64_t& field, std::string_view name) -> Result<void> {
        auto v = need(name);
        if (!v) {
            return v.error();
        }
        field = *v;
        return {};
    };
    KLP_TRY(set(m_ret_from_fork, "ret_from_fork"));
    KLP_TRY(set(m_user_entry, "el0_svc_loop"));
    KLP_TRY(set(m_cpu_idle, "cpu_idle"));
    KLP_TRY(set(m_el1_irq, "el1_irq"));
    KLP_TRY(set(m_eret_pc, "el1_eret"));
    m_costs->set_event_pcs(m_eret_pc, m_user_entry);
    KLP_TRY(load_text_poke_code());
    for (auto& cpu : m_cpus) {
        TaskSpec spec;
        spec.name = fmt::format("swapper/{}", cpu->index);
        spec.kind = TaskKind::Idle;
        spec.cpu = cpu->index;
        auto id = create_task(spec);
        if (!id) {
            return id.error();
        }
        Task& idle = task(*id);
        cpu->idle = &idle;
        cpu->current = &idle;
        idle.state = TaskState::Running;
        CpuState s = cpu->backend->state();
        s.x = {};
        s.x[29] = idle.saved.fp;
        s.sp = idle.saved.sp;
        s.pc = idle.saved.pc;
        cpu->backend->set_state(s);
    }
    return {};
}

Result<GuestAddr> Machine::symbol(std::string_view name) const {
    auto s = m_symbols.lookup(name);
    if (!s) {
        return make_error("machine: unknown symbol '{}'", name);
    }
    return s->addr;
}

Result<GuestAddr> Machine::reserve_kernel_region(uint64_t size) {
    size = (size + kPageSize - 1) & ~(kPageSize - 1);
    GuestAddr base = m_kernel_next;
    if (uint64_t(base - kKernelBase) + size > kKernelSize - kTextPokeCodeSize) {
        return make_error("machine: kernel image area full ({:#x} bytes requested)", size);
    }
    m_kernel_next = base + int64_t(size);
    return base;
}

Result<GuestAddr> Machine::reserve_module_region(uint64_t size, Placement placement, GuestAddr at) {
    size = (size + kPageSize - 1) & ~(kPageSize - 1);
    GuestAddr base;
    switch (placement) {
    case Placement::Near:
        base = m_near_next;
        if (uint64_t(base - kModuleNearBase) + size > kModuleNearSize) {
            return make_error("machine: near module area full ({:#x} bytes requested)", size);
        }
        m_near_next = base + int64_t(size);
        break;
    case Placement::Far:
        base = m_far_next;
        m_far_next = base + int64_t(size);
        break;
    case Placement::At:
        base = at;
        break;
    }
    // module_alloc: read/write memory the CPUs map when its sections get their permissions
    // (protect_sections), so no Unicorn region is split (deferred_pages.h).
    const std::string name = fmt::format("module@{}", base);
    KLP_TRY(m_memory.add_region(name, base, size));
    m_permissions.set(GuestRange{base, base + int64_t(size)}, Perm::ReadWrite, name);
    m_deferred.add_area(GuestRange{base, base + int64_t(size)});
    return base;
}

// Kernel objects are one image, as vmlinux is one link: two strong definitions of one global
// symbol are the linker's "multiple definition" error, never "first one wins".
Result<void> Machine::check_duplicate_globals(const LoadedObject& object) const {
    if (object.kind != ObjectKind::Kernel) {
        return {};
    }
    const GuestRange kernel{kKernelBase, kKernelBase + int64_t(kKernelSize)};
    for (const Symbol& s : object.symbols) {
        if (!s.global || s.weak) {
            continue;
        }
        auto other = m_symbols.lookup(s.name);
        if (other && other->global && !other->weak && other->object != object.name &&
            kernel.contains(other->addr)) {
            return make_error("machine: kernel objects '{}' and '{}' both define global symbol "
                              "'{}' (multiple definition: make one static or rename it)",
                              other->object, object.name, s.name);
        }
    }
    return {};
}

Result<void> Machine::load(const LoadedObject& object) {
    KLP_TRY(check_duplicate_globals(object));
    for (const PlacedSection& s : object.sections) {
        uint64_t size = s.range.size();
        if (size == 0) {
            continue;
        }
        if (!m_memory.is_mapped(s.range.begin, size)) {
            GuestAddr lo = s.range.begin.align_down(kPageSize);
            GuestAddr hi = s.range.end.align_up(kPageSize);
            KLP_TRY(map_region(fmt::format("{}:{}", object.name, s.name), lo, uint64_t(hi - lo)));
        }
        uint8_t* p = m_memory.host_ptr(s.range.begin, size);
        if (s.bytes.empty()) {
            std::fill(p, p + size, uint8_t(0));
        } else {
            if (s.bytes.size() != size) {
                return make_error("machine: {}: section {} holds {} bytes for a {:#x}-byte range",
                                  object.name, s.name, s.bytes.size(), size);
            }
            std::copy(s.bytes.begin(), s.bytes.end(), p);
        }
        if (s.executable) {
            // Same invalidation as a text write: an object may reuse addresses run before.
            KLP_TRY(write_text_bytes(s.range.begin, std::span<const uint8_t>(p, size)));
        }
    }
    for (const LoadWarning& w : object.warnings) {
        Finding f;
        f.kind = std::string(kNonallocRelocation);
        f.severity = Severity::Warning;
        f.where = fmt::format("{}:{}+{:#x}", object.name, w.section, w.offset);
        f.message = w.message;
        add_finding(std::move(f));
    }
    // The text guard classifies the object's words here: protect_sections rescans every page
    // it sets (until then they are read/write, so nothing on them traps).
    KLP_TRY(protect_sections(object));
    m_symbols.add_object(object);
    if (object.line_table) {
        m_unread_lines.push_back(object.line_table);
    }
    m_cfi_sections.insert(m_cfi_sections.end(), object.cfi.begin(), object.cfi.end());
    return {};
}

const std::vector<LineRow>& Machine::lines() const {
    for (const auto& table : m_unread_lines) {
        std::vector<LineRow> rows = read_line_rows(table->obj, table->placed, table->object);
        m_lines.insert(m_lines.end(), std::make_move_iterator(rows.begin()),
                       std::make_move_iterator(rows.end()));
    }
    m_unread_lines.clear();
    return m_lines;
}

void Machine::forget_lines(std::string_view object) {
    std::erase_if(m_lines, [&](const LineRow& r) { return r.object == object; });
    std::erase_if(m_unread_lines, [&](const auto& t) { return t->object == object; });
}

Result<ObjectBytes> Machine::assemble_source(std::string_view source, std::string_view name) {
    if (m_config.assembly_memo) {
        return m_config.assembly_memo->assemble(source, name);
    }
    return assemble(source, name);
}

Result<LoadedObject> Machine::load_assembly(std::string_view source, std::string_view name,
                                            ObjectKind kind, Placement placement) {
    KLP_TRY_ASSIGN(obj, assemble_source(source, name));
    auto size = Loader::layout_size(obj);
    if (!size) {
        return size.error();
    }
    Result<GuestAddr> base = kind == ObjectKind::Kernel
                                 ? reserve_kernel_region(*size)
                                 : reserve_module_region(*size, placement);
    if (!base) {
        return base.error();
    }
    LoadOptions opts;
    opts.kind = kind;
    auto loaded = Loader().load(obj, *base, opts, m_symbols);
    if (!loaded) {
        return loaded.error();
    }
    KLP_TRY(load(*loaded));
    return std::move(*loaded);
}

Result<int> Machine::create_task(const TaskSpec& spec) {
    if (spec.cpu < 0 || spec.cpu >= cpu_count()) {
        return make_error("machine: task '{}' on CPU {} of {}", spec.name, spec.cpu, cpu_count());
    }
    int id = int(m_tasks.size());
    auto stack = task_stack(spec.name);
    KLP_TRY(stack);
    GuestAddr base = *stack;
    auto t = std::make_unique<Task>();
    t->id = id;
    t->name = spec.name;
    t->kind = spec.kind;
    t->cpu = spec.cpu;
    t->stack = GuestRange{base, base + int64_t(kThreadSize)};
    const KernelEraInfo& era = era_info(m_config.era);
    t->pt_regs = t->stack.end - int64_t(era.pt_regs_size);
    t->entry = spec.entry;
    t->args = spec.args;
    t->repeat = spec.repeat == 0 ? 1 : spec.repeat;
    // The task bottom, where its first x29 points (copy_thread): the FINAL metadata record
    // {0, 0, FINAL} at task_pt_regs(t)->stackframe (6.13+), a plain {0, 0} record there
    // (5.14..6.12), or nothing: x29 = 0 (4.19..5.13; the stack is zeroed).
    const GuestAddr bottom_record = t->pt_regs + int64_t(era.pt_regs_stackframe);
    t->saved.sp = t->pt_regs.value;
    t->saved.fp = 0;
    if (era.task_bottom != TaskBottom::ZeroFp) {
        m_memory.store<uint64_t>(bottom_record, 0);
        m_memory.store<uint64_t>(bottom_record + 8, 0);
        t->saved.fp = bottom_record.value;
    }
    if (era.task_bottom == TaskBottom::FinalMeta) {
        m_memory.store<uint64_t>(bottom_record + 16, kFrameMetaFinal);
    }
    t->saved.x19_x28[0] = spec.entry.value;
    for (size_t i = 0; i < 8; ++i) {
        t->saved.x19_x28[1 + i] = spec.args[i];
    }
    t->saved.x19_x28[9] = t->repeat;
    switch (spec.kind) {
    case TaskKind::Kthread: t->saved.pc = m_ret_from_fork; break;
    case TaskKind::User: t->saved.pc = m_user_entry; break;
    case TaskKind::Idle: t->saved.pc = m_cpu_idle; break;
    }
    m_tasks.push_back(std::move(t));
    if (spec.kind != TaskKind::Idle) {
        m_cpus[size_t(spec.cpu)]->halted = false;
    }
    for (ExecutionObserver* o : m_observers) {
        o->on_task_created(id, spec.parent);
    }
    return id;
}

// A task's stack: the slot of a task that has finished (zeroed, as the kernel clears a cached
// stack before reusing it), else a new slot mapped below the guard of the last one. Each slot is
// one Unicorn region and QEMU aborts the process past a few thousand regions, so the number of
// slots is bounded by the tasks alive at once, not by the tasks ever created, and capped.
Result<GuestAddr> Machine::task_stack(std::string_view name) {
    for (size_t slot = 0; slot < m_stack_owner.size(); ++slot) {
        if (task(m_stack_owner[slot]).finished()) {
            m_stack_owner[slot] = int(m_tasks.size());
            GuestAddr base = kStackBase + int64_t(uint64_t(slot) * kStackSlot);
            std::memset(m_memory.host_ptr(base, kThreadSize), 0, kThreadSize);
            return base;
        }
    }
    if (m_stack_owner.size() >= kMaxLiveTasks) {
        return make_error("machine: cannot create task '{}': {} tasks are alive at once, the "
                          "most klpemu maps stacks for",
                          name, kMaxLiveTasks);
    }
    GuestAddr base = kStackBase + int64_t(uint64_t(m_stack_owner.size()) * kStackSlot);
    KLP_TRY(map_region(fmt::format("stack:{}", m_stack_owner.size()), base, kThreadSize,
                       Perm::ReadWrite, /*holds_code=*/false));
    m_stack_owner.push_back(int(m_tasks.size()));
    return base;
}

int Machine::current_task(int cpu) const {
    return m_cpus.at(size_t(cpu))->current->id;
}

Result<uint64_t> Machine::call(GuestAddr fn, std::array<uint64_t, 8> args, int cpu) {
    TaskSpec spec;
    spec.name = fmt::format("call:{}", symbolize(fn).str());
    spec.entry = fn;
    spec.args = args;
    spec.cpu = cpu;
    KLP_TRY_ASSIGN(id, create_task(spec));
    auto r = run();
    if (!r) {
        return r.error();
    }
    const Task& t = task(id);
    if (t.state != TaskState::Exited) {
        std::string last = m_findings.empty() ? "" : ": " + m_findings.back().message;
        return make_error("machine: call of {} did not return (stopped: {}){}", spec.name,
                          stop_reason_name(r->reason), last);
    }
    return t.exit_value;
}

void Machine::add_observer(ExecutionObserver* o) { m_observers.push_back(o); }

void Machine::add_observer_first(ExecutionObserver* o) { m_observers.insert(m_observers.begin(), o); }

void Machine::remove_observer(ExecutionObserver* o) {
    std::erase(m_observers, o);
}

void Machine::schedule_irq(int cpu, uint64_t at_instruction) {
    auto& list = m_cpus.at(size_t(cpu))->scripted_irqs;
    list.insert(std::upper_bound(list.begin(), list.end(), at_instruction), at_instruction);
    m_horizon = m_clock; // Re-evaluate at the next instruction boundary.
}

uint64_t Machine::exceptions_taken(int cpu) const { return m_cpus.at(size_t(cpu))->exceptions; }

void Machine::register_host_call(uint16_t number, HostCallHandler handler) {
    m_host_calls[number] = std::move(handler);
}

Result<void> Machine::write_text(GuestAddr addr, InsnWord word) {
    if (!addr.is_aligned(kInsnSize)) {
        return make_error("machine: text write at {} is not 4-byte aligned", addr);
    }
    uint8_t b[4];
    std::memcpy(b, &word.raw, 4);
    KLP_TRY(write_text_bytes(addr, b));
    // An instruction patch is aarch64_insn_patch_text_nosync: the writer pays the fixmap and
    // cache maintenance (charged to the CPU whose hook is patching, if any); every other CPU
    // executes an ISB before it next runs (emu/cpu_clock.h).
    if (m_guest_text_write) {
        return {}; // The guest runs its own barriers and maintenance (emu/guest/text_poke.S).
    }
    const uint64_t cost = m_cpus.front()->clock->patch_text_cost(1);
    m_text_patch_cycles += cost;
    for (auto& cpu : m_cpus) {
        if (cpu.get() == m_in_hook) {
            cpu->cycles += cost;
            cpu->current->cycles += cost;
        } else {
            cpu->isb_pending = true;
        }
    }
    return {};
}

Result<void> Machine::write_text_bytes(GuestAddr addr, std::span<const uint8_t> bytes) {
    uint8_t* p = m_memory.host_ptr(addr, bytes.size());
    if (!p) {
        return make_error("machine: text write of {} bytes at {} is unmapped", bytes.size(), addr);
    }
    if (p != bytes.data()) {
        std::memmove(p, bytes.data(), bytes.size());
    }
    ++m_text_writes;
    GuestAddr end = addr + int64_t(bytes.size());
    // Before the caches go: no CPU may retranslate the range without the new exits.
    guard_rescan(addr, end);
    // UC_CTL_TB_REMOVE_CACHE resolves only its start address: one call per 4 KiB page.
    for (GuestAddr page = addr.align_down(kPageSize); page < end; page += int64_t(kPageSize)) {
        if (!m_deferred.is_mapped(page)) {
            continue; // No CPU maps it yet (an object being loaded): nothing was translated.
        }
        GuestAddr lo = std::max(page, addr);
        GuestAddr hi = std::min(page + int64_t(kPageSize), end);
        for (auto& cpu : m_cpus) {
            KLP_TRY(cpu->backend->remove_cache(lo, hi));
        }
    }
    m_costs->invalidate(addr, end);
    if (m_in_hook) {
        // The hooked CPU retranslates from the instruction it is about to execute; the hook
        // fires again there and is skipped once.
        Cpu& cpu = *m_in_hook;
        cpu.guard_pc = cpu.last_pc;
        cpu.guard_skip_all = true;
        cpu.backend->set_pc(cpu.last_pc);
    }
    return {};
}

CpuState Machine::cpu_state(int cpu) const { return m_cpus.at(size_t(cpu))->backend->state(); }

FrameRegs Machine::frame_regs(int cpu) const { return m_cpus[size_t(cpu)]->backend->frame_regs(); }

uint64_t Machine::read_x(int cpu, int index) const {
    return m_cpus[size_t(cpu)]->backend->x(index);
}

uint64_t Machine::frame_register_writes(int cpu) const {
    return m_cpus[size_t(cpu)]->backend->frame_register_writes();
}

void Machine::set_cpu_state(int cpu, const CpuState& state) {
    Cpu& c = *m_cpus.at(size_t(cpu));
    c.backend->set_state(state);
    c.guard_pc = kNoPc;
    c.sp_recheck = true;
}

FpState Machine::fp_state(int cpu) const {
    return m_cpus.at(size_t(cpu))->backend->fp_state();
}

void Machine::set_fp_state(int cpu, const FpState& state) {
    m_cpus.at(size_t(cpu))->backend->set_fp_state(state);
}

uint64_t Machine::cpu_instructions(int cpu) const { return m_cpus.at(size_t(cpu))->instructions; }
uint64_t Machine::cpu_cycles(int cpu) const { return m_cpus.at(size_t(cpu))->cycles; }

void Machine::add_finding(Finding f) {
    KLP_CHECK(is_finding_kind(f.kind), "finding kind '{}' is not registered in emu/finding_kinds.cpp",
              f.kind);
    if (f.instruction == 0) {
        f.instruction = m_clock;
    }
    m_findings.push_back(std::move(f));
}

FindingAt Machine::finding_at(GuestAddr pc, std::optional<int> cpu, int task) const {
    FindingAt at{pc, cpu, {}, m_clock};
    if (task >= 0 && task < task_count()) {
        at.task = this->task(task).name;
    }
    return at;
}

void Machine::report(std::string kind, Severity severity, GuestAddr pc, std::optional<int> cpu,
                     int task, std::string message) {
    m_findings.push_back(make_finding(m_symbols, std::move(kind), severity,
                                      finding_at(pc, cpu, task), std::move(message)));
}

void Machine::log_line(int cpu, std::string_view task_name, std::string_view text) {
    m_log.push_back(fmt::format("[cpu{} {}] {}", cpu, task_name, text));
}

std::string Machine::symbolized(uint64_t pc) const { return m_symbols.symbolize(GuestAddr(pc)).str(); }

uint64_t HostCallContext::arg(int index) const {
    return m_machine.m_cpus.at(size_t(m_cpu))->backend->x(index);
}

void HostCallContext::set_reg(int index, uint64_t value) {
    m_machine.m_cpus.at(size_t(m_cpu))->backend->set_x(index, value);
}

} // namespace klpemu::emu
