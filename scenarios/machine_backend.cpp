// The machine-backed Backend (see machine_backend.h). Objects go through the same path the
// kernel's module loader models: assemble or compile to an ELF object, reserve a region (kernel
// image, near or far module area, or a fixed address), relocate against everything loaded so
// far, map. Tasks map onto machine tasks; a kthread that must call its entry repeatedly gets a
// small generated guest wrapper, since the machine's kthreads call their function once. What a
// scenario adds to the plain machine (ftrace, modules, the reliability check, ...) comes from
// features that attach themselves (machine_feature.h); this file knows none of them by name.
#include "scenarios/machine_backend.h"
#include "scenarios/shell_pids.h"

#include "emu/assembler.h"
#include "emu/c_compiler.h"
#include "emu/loader.h"
#include "emu/machine.h"
#include "scenarios/call_trace.h"
#include "scenarios/machine_events.h"
#include "scenarios/machine_feature.h"
#include "scenarios/machine_features.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::scenario {

namespace {

// A kthread body calling `entry(args)` `count` times (forever if count is 0) and schedule()
// after each call, as a kernel thread loop calls cond_resched(); the last call's x0 is the
// thread's exit value. No relocations: entry, schedule and the arguments are literals.
std::string repeat_wrapper(std::string_view name, uint64_t entry, uint64_t schedule,
                           std::span<const uint64_t> args, uint64_t count) {
    std::string quads;
    for (size_t i = 0; i < 8; ++i) {
        quads += fmt::format("        .quad {:#x}\n", i < args.size() ? args[i] : 0);
    }
    return fmt::format(R"(        .text
        .globl  {0}
        .type   {0}, %function
        .p2align 3
{0}:
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        stp     x19, x20, [sp, #16]
        ldr     x19, 3f
1:      adr     x9, 2f
        ldp     x0, x1, [x9]
        ldp     x2, x3, [x9, #16]
        ldp     x4, x5, [x9, #32]
        ldp     x6, x7, [x9, #48]
        ldr     x16, 4f
        blr     x16
        mov     x20, x0
        ldr     x16, 5f
        cbz     x16, 6f
        blr     x16
6:      cbz     x19, 1b
        subs    x19, x19, #1
        b.ne    1b
        mov     x0, x20
        ldp     x19, x20, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
        .p2align 3
2:
{1}3:      .quad {2:#x}
4:      .quad {3:#x}
5:      .quad {4:#x}
        .size   {0}, . - {0}
)",
                       name, quads, count, entry, schedule);
}

class MachineBackend final : public Backend, public FeatureHost {
  public:
    MachineBackend(const Scenario& scenario, std::unique_ptr<emu::Machine> machine,
                   UnwindRequest request, std::optional<std::filesystem::path> compile_cache)
        : m_s(scenario), m_request(std::move(request)), m_machine(std::move(machine)),
          m_events(*m_machine), m_compile_cache(std::move(compile_cache)) {}
    // Attaches the features the scenario wants, then the backend's own observers.
    Result<void> attach(std::span<const FeatureKind> kinds, ChromeTraceProcess* trace);

    ~MachineBackend() override {
        if (m_trace) {
            m_machine->remove_observer(m_trace.get());
        }
        if (m_attached) {
            m_machine->remove_observer(&m_events);
        }
        // Newest first: a feature may use the ones attached before it.
        while (!m_features.empty()) {
            m_features.pop_back();
        }
    }

    Result<void> load_object(const ObjectSpec& object) override;
    Result<void> start_task(const TaskSpec& task, std::span<const uint64_t> args) override;
    std::optional<uint64_t> symbol_address(std::string_view name) const override;
    Result<RunStop> run_for(uint64_t instructions) override;
    Result<RunStop> run_until(const ReachPoint& reach) override;
    Result<void> inject_irq(int cpu) override;
    Result<CallOutcome> call(std::string_view function, std::span<const uint64_t> args) override;
    std::vector<BackendEvent> take_events() override {
        flush();
        return std::exchange(m_pending, {});
    }
    Result<void> module_action(const ModuleAction& action) override;
    Result<void> ftrace(const FtraceAction& action) override;
    Result<void> feature_action(const Action& action) override;
    uint64_t instructions() const override { return m_machine->instructions(); }
    uint64_t executed_instructions() const override { return m_machine->executed_instructions(); }
    std::string expand_shell_line(std::string line) const override {
        return expand_user_pids(std::move(line), *m_machine);
    }
    uint64_t cycles() const override;
    void finish() override {
        if (m_trace) {
            m_trace->finish();
        }
    }
    std::optional<UnwindReport> unwind_report() const override {
        for (const auto& f : m_features) {
            if (auto report = f->unwind_report()) {
                for (const auto& other : m_features) {
                    other->annotate_unwind_report(*report);
                }
                return report;
            }
        }
        return std::nullopt;
    }

    // FeatureHost.
    emu::Machine& machine() override { return *m_machine; }
    const Scenario& scenario() const override { return m_s; }
    const UnwindRequest& request() const override { return m_request; }
    const std::optional<std::filesystem::path>& compile_cache() const override {
        return m_compile_cache;
    }
    void note(std::string text) override;
    void output(std::string text) override;
    Result<ObjectBytes> object_bytes(const ObjectSpec& object) const override;
    Result<CallOutcome> call_at(GuestAddr addr, std::string_view name,
                                std::span<const uint64_t> args, bool user = false) override;
    Result<emu::RunResult> run_machine(uint64_t max = UINT64_MAX);
    void object_added(std::string name) override { m_objects.push_back(std::move(name)); }
    void object_removed(std::string_view name) override { std::erase(m_objects, name); }
    void objects_loaded() override {
        for (const auto& f : m_features) {
            f->objects_loaded();
        }
    }
    void tasks_created() override {
        for (const auto& f : m_features) {
            f->tasks_created();
        }
    }

  protected:
    std::vector<MachineFeature*> features() override {
        std::vector<MachineFeature*> out;
        for (const auto& f : m_features) {
            out.push_back(f.get());
        }
        return out;
    }
    DebugAccess debug_access() override {
        DebugAccess access;
        access.machine = m_machine.get();
        for (const auto& f : m_features) {
            f->describe(access);
        }
        return access;
    }

  private:
    int idle_cpu() const;
    std::optional<Result<void>> dispatch(const Action& action);
    // Moves what the machine and the features reported so far into m_pending, in order.
    void flush();

    const Scenario& m_s;
    UnwindRequest m_request;
    std::unique_ptr<emu::Machine> m_machine;
    MachineEvents m_events;
    std::optional<std::filesystem::path> m_compile_cache; // Not with klpemu run --no-cache.
    bool m_attached = false;
    std::unique_ptr<CallTrace> m_trace;
    std::vector<std::string> m_objects;
    int m_next_cpu = 0;
    std::vector<BackendEvent> m_pending;
    std::vector<std::unique_ptr<MachineFeature>> m_features; // Destroyed first, newest first.
};

Result<void> MachineBackend::attach(std::span<const FeatureKind> kinds, ChromeTraceProcess* trace) {
    for (const FeatureKind& kind : kinds) {
        if (kind.wanted(m_s, m_request)) {
            KLP_TRY_ASSIGN(feature, kind.attach(*this));
            m_features.push_back(std::move(feature));
        }
    }
    m_machine->add_observer(&m_events);
    m_attached = true;
    if (trace) {
        m_trace = std::make_unique<CallTrace>(*m_machine, *trace);
        m_machine->add_observer(m_trace.get());
    }
    return {};
}

// An action goes to the first feature that takes it.
std::optional<Result<void>> MachineBackend::dispatch(const Action& action) {
    for (const auto& f : m_features) {
        if (auto handled = f->handle(action)) {
            return handled;
        }
    }
    return std::nullopt;
}

// Why no feature took `action`: the shell's actions belong to the livepatch feature.
std::string unhandled_action(const Action& action) {
    const auto* shell = std::get_if<ShellAction>(&action);
    if (!shell) {
        return "no feature of this scenario takes that action";
    }
    switch (shell->kind) {
    case ShellAction::Kind::Insmod:
    case ShellAction::Kind::Rmmod:
        return fmt::format("{} {}: no feature of this scenario loads modules with the shell: it "
                           "needs [scenario] requires = [\"livepatch\"] and a deferred "
                           "[[object]] named '{}'",
                           shell->kind == ShellAction::Kind::Insmod ? "insmod" : "rmmod",
                           shell->name, shell->name);
    default:
        return fmt::format("'{}': no feature of this scenario takes shell actions: it needs "
                           "[scenario] requires = [\"livepatch\"]",
                           shell->name);
    }
}

Result<void> MachineBackend::feature_action(const Action& action) {
    return dispatch(action).value_or(make_error("{}", unhandled_action(action)));
}

Result<void> MachineBackend::module_action(const ModuleAction& action) {
    return dispatch(action).value_or(
        make_error("module {}: no [[object]] is a module or livepatch", action.name));
}

Result<void> MachineBackend::ftrace(const FtraceAction& action) {
    return dispatch(action).value_or(make_error("ftrace is not set up for this scenario"));
}

void MachineBackend::note(std::string text) {
    flush();
    m_pending.push_back(
        line_event(BackendEvent::Kind::Log, std::move(text), m_machine->instructions()));
}

void MachineBackend::output(std::string text) {
    flush();
    m_pending.push_back(
        line_event(BackendEvent::Kind::Output, std::move(text), m_machine->instructions()));
}

Result<ObjectBytes> MachineBackend::object_bytes(const ObjectSpec& object) const {
    if (object.source_kind == SourceKind::InlineAsm) {
        // Diagnostics name the scenario file; the text is padded so its lines are the file's.
        return assemble(object.text, m_s.file.string());
    }
    CompileOptions options;
    options.compiler = object.compiler;
    options.cache_dir = m_compile_cache;
    if (m_s.machine.ftrace == "call-ops") {
        // CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS builds: an 8-byte ops literal before each function.
        options.extra_flags = {"-fpatchable-function-entry=4,2", "-falign-functions=8"};
    }
    if (object.kind != ObjectKind::Kernel) {
        const auto module_flags = module_compile_flags(object.name);
        options.extra_flags.insert(options.extra_flags.end(), module_flags.begin(),
                                   module_flags.end());
    }
    if (std::find(m_s.requires_features.begin(), m_s.requires_features.end(), "livepatch") !=
        m_s.requires_features.end()) {
        // klpemu's kernel-API headers (patcher/livepatch/include, docs/livepatch.md).
        options.extra_flags.push_back("-I" KLPEMU_SOURCE_ROOT "/patcher/livepatch/include");
    }
    options.extra_flags.insert(options.extra_flags.end(), object.cflags.begin(),
                               object.cflags.end());
    return load_source_file(object.path, options);
}

Result<void> MachineBackend::load_object(const ObjectSpec& object) {
    auto fail = [&](const Error& e) {
        return located_error(object.loc, fmt::format("cannot load object '{}':\n{}", object.name,
                                                     e.message));
    };
    auto bytes = object_bytes(object);
    if (!bytes) {
        return fail(bytes.error());
    }
    for (const auto& f : m_features) {
        if (auto claimed = f->claim_object(object)) {
            return *claimed;
        }
    }
    auto size = Loader::layout_size(*bytes);
    if (!size) {
        return fail(size.error());
    }
    Result<GuestAddr> base = GuestAddr{};
    if (object.kind == ObjectKind::Kernel) {
        base = m_machine->reserve_kernel_region(*size);
    } else if (object.placement == Placement::Address) {
        base = m_machine->reserve_module_region(*size, emu::Placement::At, GuestAddr(object.address));
    } else {
        base = m_machine->reserve_module_region(
            *size, object.placement == Placement::Far ? emu::Placement::Far : emu::Placement::Near);
    }
    if (!base) {
        return fail(base.error());
    }
    LoadOptions options;
    options.kind = object.kind;
    options.name = object.name;
    auto loaded = Loader().load(*bytes, *base, options, m_machine->symbols());
    if (!loaded) {
        return fail(loaded.error());
    }
    auto mapped = m_machine->load(*loaded);
    if (!mapped) {
        return fail(mapped.error());
    }
    m_objects.push_back(object.name);
    for (const auto& f : m_features) {
        if (auto r = f->kernel_object_loaded(*loaded); !r) {
            return fail(r.error());
        }
    }
    objects_loaded();
    return {};
}

void MachineBackend::flush() {
    auto events = m_events.take();
    // Newest feature first, each batch merged into the machine's events by the clock.
    for (auto f = m_features.rbegin(); f != m_features.rend(); ++f) {
        if ((*f)->take_events(events)) {
            std::stable_sort(events.begin(), events.end(),
                             [](const BackendEvent& a, const BackendEvent& b) {
                                 return a.instruction < b.instruction;
                             });
        }
    }
    std::move(events.begin(), events.end(), std::back_inserter(m_pending));
}

Result<void> MachineBackend::start_task(const TaskSpec& task, std::span<const uint64_t> args) {
    const auto entry = symbol_address(task.entry);
    if (!entry) {
        return located_error(task.loc, fmt::format("task '{}': no symbol '{}'", task.name, task.entry));
    }
    emu::TaskSpec spec;
    spec.name = task.name;
    spec.kind = task.kind == TaskKind::User ? emu::TaskKind::User : emu::TaskKind::Kthread;
    spec.entry = GuestAddr(*entry);
    for (size_t i = 0; i < args.size() && i < spec.args.size(); ++i) {
        spec.args[i] = args[i];
    }
    // Tasks without affinity are spread over the CPUs in declaration order.
    spec.cpu = task.cpu.value_or(m_next_cpu++ % m_machine->cpu_count());
    spec.repeat = task.loop ? UINT64_MAX : task.repeat;
    if (spec.kind == emu::TaskKind::Kthread && (task.loop || task.repeat > 1)) {
        const auto name = fmt::format("__scenario_repeat_{}", task.name);
        auto wrapper = m_machine->load_assembly(
            repeat_wrapper(name, *entry, symbol_address("schedule").value_or(0), args,
                           task.loop ? 0 : task.repeat),
            fmt::format("scenario:{}", name), ObjectKind::Kernel);
        if (!wrapper) {
            return located_error(task.loc, wrapper.error().message);
        }
        spec.entry = GuestAddr(*symbol_address(name));
        spec.repeat = 1;
        objects_loaded();
    }
    auto id = m_machine->create_task(spec);
    if (!id) {
        return located_error(task.loc, id.error().message);
    }
    tasks_created();
    return {};
}

std::optional<uint64_t> MachineBackend::symbol_address(std::string_view name) const {
    if (auto s = m_machine->symbols().lookup(name)) {
        return s->addr.value;
    }
    for (const auto& object : m_objects) {
        if (auto s = m_machine->symbols().lookup_in(object, name)) {
            return s->addr.value;
        }
    }
    return std::nullopt;
}

Result<RunStop> MachineBackend::run_for(uint64_t instructions) {
    const uint64_t end = m_machine->instructions() + instructions;
    while (true) {
        auto r = run_machine(end - m_machine->instructions());
        if (!r) {
            return r.error();
        }
        if (r->reason != emu::StopReason::StopRequested || m_machine->instructions() >= end) {
            return to_run_stop(r->reason);
        }
    }
}

// Machine::run; a stop a feature requested gives every feature its deferred work
// (MachineFeature::stop_requested: livepatch's delayed transition work).
Result<emu::RunResult> MachineBackend::run_machine(uint64_t max) {
    auto r = m_machine->run(max);
    if (r && r->reason == emu::StopReason::StopRequested) {
        for (const auto& f : m_features) {
            KLP_TRY(f->stop_requested());
        }
    }
    return r;
}

Result<RunStop> MachineBackend::run_until(const ReachPoint& reach) {
    const auto addr = symbol_address(reach.symbol);
    if (!addr) {
        return make_error("until: no symbol '{}'", reach.symbol);
    }
    m_machine->add_breakpoint(GuestAddr(*addr));
    while (true) {
        auto r = run_machine();
        if (!r) {
            m_machine->remove_breakpoint(GuestAddr(*addr));
            return r.error();
        }
        if (r->reason != emu::StopReason::Breakpoint) {
            if (r->reason == emu::StopReason::StopRequested) {
                continue;
            }
            m_machine->remove_breakpoint(GuestAddr(*addr));
            return to_run_stop(r->reason);
        }
        const auto& task = m_machine->task(m_machine->current_task(r->cpu));
        if (r->pc.value == *addr && (reach.task.empty() || task.name == reach.task)) {
            m_machine->remove_breakpoint(GuestAddr(*addr));
            return RunStop::Done;
        }
    }
}

Result<void> MachineBackend::inject_irq(int cpu) {
    if (cpu < 0 || cpu >= m_machine->cpu_count()) {
        return make_error("irq: no CPU {}", cpu);
    }
    m_machine->request_irq(cpu);
    return {};
}

Result<CallOutcome> MachineBackend::call(std::string_view function, std::span<const uint64_t> args) {
    const auto addr = symbol_address(function);
    if (!addr) {
        return make_error("call: no symbol '{}'", function);
    }
    return call_at(GuestAddr(*addr), function, args);
}

Result<CallOutcome> MachineBackend::call_at(GuestAddr addr, std::string_view name,
                                            std::span<const uint64_t> args, bool user) {
    emu::TaskSpec spec;
    spec.name = user ? std::string(name) : fmt::format("call:{}", name);
    spec.kind = user ? emu::TaskKind::User : emu::TaskKind::Kthread;
    spec.entry = addr;
    for (size_t i = 0; i < args.size() && i < spec.args.size(); ++i) {
        spec.args[i] = args[i];
    }
    spec.cpu = idle_cpu();
    KLP_TRY_ASSIGN(id, m_machine->create_task(spec));
    tasks_created();
    m_events.set_quiet(id);
    m_events.stop_when_finished(id);
    CallOutcome outcome;
    while (true) {
        auto r = run_machine();
        if (!r) {
            m_events.stop_when_finished(std::nullopt);
            return r.error();
        }
        const auto& task = m_machine->task(id);
        if (task.finished()) {
            outcome.stop = task.state == emu::TaskState::Exited ? RunStop::Done : RunStop::Idle;
            outcome.value = task.exit_value;
            break;
        }
        if (r->reason != emu::StopReason::StopRequested && r->reason != emu::StopReason::Breakpoint) {
            outcome.stop = to_run_stop(r->reason);
            break;
        }
    }
    m_events.stop_when_finished(std::nullopt);
    return outcome;
}

// The lowest CPU with no live task of its own (so a `call` is not starved by a looping task
// that never schedules), else CPU 0.
int MachineBackend::idle_cpu() const {
    std::vector<bool> busy(size_t(m_machine->cpu_count()), false);
    for (int id = 0; id < m_machine->task_count(); ++id) {
        const auto& t = m_machine->task(id);
        if (t.kind != emu::TaskKind::Idle && !t.finished()) {
            busy[size_t(t.cpu)] = true;
        }
    }
    for (size_t cpu = 0; cpu < busy.size(); ++cpu) {
        if (!busy[cpu]) {
            return int(cpu);
        }
    }
    return 0;
}

uint64_t MachineBackend::cycles() const {
    uint64_t total = 0;
    for (int cpu = 0; cpu < m_machine->cpu_count(); ++cpu) {
        total += m_machine->cpu_cycles(cpu);
    }
    return total;
}

} // namespace

RunStop to_run_stop(emu::StopReason r) {
    switch (r) {
    case emu::StopReason::BudgetExhausted: return RunStop::BudgetExhausted;
    case emu::StopReason::AllTasksFinished:
    case emu::StopReason::AllBlocked: return RunStop::Idle;
    case emu::StopReason::InstructionLimit:
    case emu::StopReason::Breakpoint:
    case emu::StopReason::StopRequested: return RunStop::Done;
    }
    return RunStop::Done;
}

BackendFactory machine_backend_factory(UnwindRequest request,
                                       std::optional<std::filesystem::path> compile_cache) {
    // One memo and one model pool for every machine this factory makes: `klpemu run` boots
    // one per scenario.
    auto memo = std::make_shared<AssemblyMemo>();
    auto models = std::make_shared<CycleModelPool>();
    return [request, compile_cache, memo,
            models](const Scenario& scenario,
                    ChromeTraceProcess* trace) -> Result<std::unique_ptr<Backend>> {
        emu::MachineConfig config;
        config.assembly_memo = memo;
        config.cycle_models = models;
        config.cpus = scenario.machine.cpus;
        config.core = scenario.machine.core;
        config.cycles = scenario.machine.cycles == "pipeline" ? CycleAccuracy::Pipeline
                                                              : CycleAccuracy::Fast;
        config.data_cache = scenario.machine.data_cache;
        config.seed = scenario.machine.seed;
        config.scheduling.kind =
            scenario.machine.seed == 0 ? emu::ScheduleKind::RoundRobin : emu::ScheduleKind::Random;
        config.scheduling.quantum = scenario.machine.quantum;
        config.instruction_budget = scenario.machine.budget;
        config.stale_fetch = *emu::parse_stale_fetch(scenario.machine.stale_fetch);
        config.era = *emu::parse_kernel_era(scenario.machine.kernel); // The parser checked it.
        const std::vector<FeatureKind> kinds = machine_features();
        for (const FeatureKind& kind : kinds) {
            if (kind.wanted(scenario, request)) {
                kind.configure(scenario, config);
            }
        }
        auto machine = emu::Machine::create(config);
        if (!machine) {
            return make_error("{}: error: cannot create the machine: {}", scenario.file.string(),
                              machine.error().message);
        }
        auto backend = std::make_unique<MachineBackend>(scenario, std::move(*machine), request,
                                                        compile_cache);
        if (auto attached = backend->attach(kinds, trace); !attached) {
            return make_error("{}: error: {}", scenario.file.string(), attached.error().message);
        }
        return std::unique_ptr<Backend>(std::move(backend));
    };
}

} // namespace klpemu::scenario
