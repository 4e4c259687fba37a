// The machine-backed Backend (see machine_backend.h). Objects go through the same path the
// kernel's module loader models: assemble or compile to an ELF object, reserve a region (kernel
// image, near or far module area, or a fixed address), relocate against everything loaded so
// far, map. Tasks map onto machine tasks; a kthread that must call its entry repeatedly gets a
// small generated guest wrapper, since the machine's kthreads call their function once.
#include "scenarios/machine_backend.h"

#include "emu/assembler.h"
#include "emu/c_compiler.h"
#include "emu/loader.h"
#include "emu/machine.h"
#include "patcher/ftrace.h"
#include "patcher/modules.h"
#include "scenarios/call_trace.h"
#include "scenarios/guest_value.h"
#include "scenarios/machine_events.h"

#include <fmt/format.h>

namespace klpemu::scenario {

namespace {

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

// A kthread body calling `entry(args)` `count` times (forever if count is 0); the last call's
// x0 is the thread's exit value. No relocations: the entry and arguments are literals.
std::string repeat_wrapper(std::string_view name, uint64_t entry,
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
        str     x19, [sp, #16]
        ldr     x19, 3f
1:      adr     x9, 2f
        ldp     x0, x1, [x9]
        ldp     x2, x3, [x9, #16]
        ldp     x4, x5, [x9, #32]
        ldp     x6, x7, [x9, #48]
        ldr     x16, 4f
        blr     x16
        cbz     x19, 1b
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        ldp     x29, x30, [sp], #32
        ret
        .p2align 3
2:
{1}3:      .quad {2:#x}
4:      .quad {3:#x}
        .size   {0}, . - {0}
)",
                       name, quads, count, entry);
}

class MachineBackend : public Backend {
  public:
    MachineBackend(const Scenario& scenario, std::unique_ptr<emu::Machine> machine,
                   ChromeTraceProcess* trace)
        : m_s(scenario), m_machine(std::move(machine)), m_events(*m_machine) {
        m_machine->add_observer(&m_events);
        if (trace) {
            m_trace = std::make_unique<CallTrace>(*m_machine, *trace);
            m_machine->add_observer(m_trace.get());
        }
    }
    // Installs ftrace (if a step uses it) and the module loader (if any object is a module).
    Result<void> setup();

    ~MachineBackend() override {
        if (m_trace) {
            m_machine->remove_observer(m_trace.get());
        }
        m_machine->remove_observer(&m_events);
    }

    Result<void> load_object(const ObjectSpec& object) override;
    Result<void> start_task(const TaskSpec& task, std::span<const uint64_t> args) override;
    std::optional<uint64_t> symbol_address(std::string_view name) const override;
    Result<RunStop> run_for(uint64_t instructions) override;
    Result<RunStop> run_until(const ReachPoint& reach) override;
    Result<void> inject_irq(int cpu) override;
    Result<CallOutcome> call(std::string_view function, std::span<const uint64_t> args) override;
    Result<void> module_action(const ModuleAction& action) override;
    Result<void> ftrace_action(const FtraceAction& action) override;
    std::vector<BackendEvent> take_events() override {
        flush();
        return std::exchange(m_pending, {});
    }
    uint64_t instructions() const override { return m_machine->instructions(); }
    uint64_t cycles() const override;
    void finish() override {
        if (m_trace) {
            m_trace->finish();
        }
    }

  private:
    Result<ObjectBytes> object_bytes(const ObjectSpec& object) const;
    Result<void> load_module(const ObjectSpec& object);
    Result<CallOutcome> call_at(GuestAddr addr, std::string_view name,
                                std::span<const uint64_t> args);
    // Moves what the machine and ftrace reported so far into m_pending, in order.
    void flush();
    void note(std::string text);
    int idle_cpu() const;

    const Scenario& m_s;
    std::unique_ptr<emu::Machine> m_machine;
    MachineEvents m_events;
    std::unique_ptr<CallTrace> m_trace;
    std::vector<std::string> m_objects;
    int m_next_cpu = 0;
    std::unique_ptr<patcher::Ftrace> m_ftrace;
    std::unique_ptr<patcher::Modules> m_modules;
    std::vector<const ObjectSpec*> m_deferred;
    std::vector<BackendEvent> m_pending;
    size_t m_pokes_seen = 0;
    size_t m_trace_seen = 0;
};

Result<void> MachineBackend::setup() {
    const bool uses_ftrace = std::any_of(m_s.steps.begin(), m_s.steps.end(), [](const Step& st) {
        return std::holds_alternative<FtraceAction>(st.action);
    });
    if (uses_ftrace) {
        auto variant = patcher::parse_trampoline_variant(m_s.machine.ftrace);
        KLP_TRY(variant);
        patcher::FtraceOptions options;
        options.variant = *variant;
        // Before a7ed7b9d0ebb the generator's BRK went into a site no trampoline reaches.
        options.brk_on_range_error = !m_s.machine.module_init_ftrace_plt;
        auto ftrace = patcher::Ftrace::create(*m_machine, options);
        if (!ftrace) {
            return make_error("{}: error: {}", m_s.file.string(), ftrace.error().message);
        }
        m_ftrace = std::move(*ftrace);
    }
    const bool uses_modules = std::any_of(m_s.objects.begin(), m_s.objects.end(),
                                          [](const ObjectSpec& o) {
                                              return o.kind != ObjectKind::Kernel;
                                          });
    if (uses_modules) {
        patcher::ModuleOptions options;
        options.erratum_843419 = m_s.machine.erratum_843419;
        options.init_ftrace_plt = m_s.machine.module_init_ftrace_plt;
        m_modules = std::make_unique<patcher::Modules>(*m_machine, options, m_ftrace.get());
    }
    return {};
}

void MachineBackend::flush() {
    for (auto& e : m_events.take()) {
        m_pending.push_back(std::move(e));
    }
    if (!m_ftrace) {
        return;
    }
    const auto& pokes = m_ftrace->text_poke().log();
    for (; m_pokes_seen < pokes.size(); ++m_pokes_seen) {
        m_pending.push_back(BackendEvent{BackendEvent::Kind::Patch, pokes[m_pokes_seen].line, {},
                                         pokes[m_pokes_seen].instruction});
    }
    const auto& trace = m_ftrace->trace();
    for (; m_trace_seen < trace.size(); ++m_trace_seen) {
        m_pending.push_back(BackendEvent{BackendEvent::Kind::Log, trace[m_trace_seen], {},
                                         m_machine->instructions()});
    }
}

void MachineBackend::note(std::string text) {
    flush();
    m_pending.push_back(
        BackendEvent{BackendEvent::Kind::Log, std::move(text), {}, m_machine->instructions()});
}

patcher::ModulePlace module_place(Placement placement, uint64_t address) {
    switch (placement) {
    case Placement::Far: return {emu::Placement::Far, {}};
    case Placement::Address: return {emu::Placement::At, GuestAddr(address)};
    case Placement::Default:
    case Placement::Near: break;
    }
    return {emu::Placement::Near, {}};
}

// load_module + do_init_module: place and link, run `init`, free init memory.
Result<void> MachineBackend::load_module(const ObjectSpec& object) {
    auto fail = [&](const Error& e) {
        return located_error(object.loc, fmt::format("cannot load module '{}':\n{}", object.name,
                                                     e.message));
    };
    auto bytes = object_bytes(object);
    if (!bytes) {
        return fail(bytes.error());
    }
    patcher::ModuleSpec spec;
    spec.name = object.name;
    spec.kind = object.kind;
    spec.core = module_place(object.placement, object.address);
    if (object.init_placement != Placement::Default) {
        spec.init = module_place(object.init_placement, object.init_address);
    }
    auto loaded = m_modules->load(*bytes, spec);
    if (!loaded) {
        return fail(loaded.error());
    }
    m_objects.push_back(object.name);
    for (auto& line : m_modules->describe(**loaded)) {
        note(std::move(line));
    }
    if (const auto init = (*loaded)->init_fn) {
        auto outcome = call_at(*init, fmt::format("{}:init", object.name), {});
        if (!outcome) {
            return fail(outcome.error());
        }
        if (outcome->stop != RunStop::Done) {
            note(fmt::format("{}: init did not return", object.name));
            return {};
        }
        note(fmt::format("{}: init() = {}", object.name, format_guest_value(outcome->value)));
    }
    KLP_TRY(m_modules->free_init(object.name));
    note(fmt::format("{}: init memory freed", object.name));
    return {};
}

Result<void> MachineBackend::module_action(const ModuleAction& action) {
    if (!m_modules) {
        return make_error("module {}: no [[object]] is a module or livepatch", action.name);
    }
    if (!action.load) {
        if (!m_modules->find(action.name)) {
            return make_error("module unload: '{}' is not loaded", action.name);
        }
        KLP_TRY(m_modules->unload(action.name));
        std::erase(m_objects, action.name);
        note(fmt::format("{}: unloaded", action.name));
        return {};
    }
    auto it = std::find_if(m_deferred.begin(), m_deferred.end(),
                           [&](const ObjectSpec* o) { return o->name == action.name; });
    if (it == m_deferred.end()) {
        return make_error("module load: no deferred [[object]] named '{}' (modules are loaded by "
                          "a step only with deferred = true)",
                          action.name);
    }
    if (m_modules->find(action.name)) {
        return make_error("module load: '{}' is already loaded", action.name);
    }
    return load_module(**it);
}

Result<void> MachineBackend::ftrace_action(const FtraceAction& action) {
    KLP_CHECK(m_ftrace != nullptr, "ftrace step without ftrace installed");
    if (!action.enable) {
        return m_ftrace->disable(action.filter);
    }
    auto tracer = patcher::parse_tracer_kind(action.tracer);
    KLP_TRY(tracer);
    return m_ftrace->enable(action.filter, *tracer);
}

Result<ObjectBytes> MachineBackend::object_bytes(const ObjectSpec& object) const {
    if (object.source_kind == SourceKind::InlineAsm) {
        // Diagnostics name the scenario file; the text is padded so its lines are the file's.
        return assemble(object.text, m_s.file.string());
    }
    CompileOptions options;
    options.compiler = object.compiler;
    if (m_s.machine.ftrace == "call-ops") {
        // CALL_OPS kernels build with a per-function ops literal before each entry.
        options.extra_flags = {"-fpatchable-function-entry=4,2", "-falign-functions=8"};
    }
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
    if (object.deferred) {
        m_deferred.push_back(&object);
        return {};
    }
    if (object.kind != ObjectKind::Kernel) {
        return load_module(object);
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
    if (m_ftrace) {
        auto added = m_ftrace->add_object(*loaded);
        if (!added) {
            return fail(added.error());
        }
    }
    m_objects.push_back(object.name);
    return {};
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
            repeat_wrapper(name, *entry, args, task.loop ? 0 : task.repeat),
            fmt::format("scenario:{}", name), ObjectKind::Kernel);
        if (!wrapper) {
            return located_error(task.loc, wrapper.error().message);
        }
        spec.entry = GuestAddr(*symbol_address(name));
        spec.repeat = 1;
    }
    auto id = m_machine->create_task(spec);
    if (!id) {
        return located_error(task.loc, id.error().message);
    }
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
    auto r = m_machine->run(instructions);
    if (!r) {
        return r.error();
    }
    return to_run_stop(r->reason);
}

Result<RunStop> MachineBackend::run_until(const ReachPoint& reach) {
    const auto addr = symbol_address(reach.symbol);
    if (!addr) {
        return make_error("until: no symbol '{}'", reach.symbol);
    }
    m_machine->add_breakpoint(GuestAddr(*addr));
    while (true) {
        auto r = m_machine->run();
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
                                            std::span<const uint64_t> args) {
    emu::TaskSpec spec;
    spec.name = fmt::format("call:{}", name);
    spec.entry = addr;
    for (size_t i = 0; i < args.size() && i < spec.args.size(); ++i) {
        spec.args[i] = args[i];
    }
    spec.cpu = idle_cpu();
    auto id = m_machine->create_task(spec);
    if (!id) {
        return id.error();
    }
    m_events.set_quiet(*id);
    m_events.stop_when_finished(*id);
    CallOutcome outcome;
    while (true) {
        auto r = m_machine->run();
        if (!r) {
            m_events.stop_when_finished(std::nullopt);
            return r.error();
        }
        const auto& task = m_machine->task(*id);
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

BackendFactory machine_backend_factory() {
    return [](const Scenario& scenario, ChromeTraceProcess* trace) -> Result<std::unique_ptr<Backend>> {
        emu::MachineConfig config;
        config.cpus = scenario.machine.cpus;
        config.core = scenario.machine.core;
        config.seed = scenario.machine.seed;
        config.scheduling.kind =
            scenario.machine.seed == 0 ? emu::ScheduleKind::RoundRobin : emu::ScheduleKind::Random;
        config.scheduling.quantum = scenario.machine.quantum;
        config.instruction_budget = scenario.machine.budget;
        // The store-below-sp check of ftrace trampolines watches guest stores.
        config.observe_memory_writes = std::any_of(
            scenario.steps.begin(), scenario.steps.end(),
            [](const Step& st) { return std::holds_alternative<FtraceAction>(st.action); });
        auto machine = emu::Machine::create(config);
        if (!machine) {
            return make_error("{}: error: cannot create the machine: {}", scenario.file.string(),
                              machine.error().message);
        }
        auto backend = std::make_unique<MachineBackend>(scenario, std::move(*machine), trace);
        KLP_TRY(backend->setup());
        return std::unique_ptr<Backend>(std::move(backend));
    };
}

} // namespace klpemu::scenario
