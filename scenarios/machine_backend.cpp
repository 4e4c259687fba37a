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
#include "scenarios/call_trace.h"
#include "scenarios/machine_events.h"

#include <fmt/format.h>

#include <algorithm>

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

// A scenario gets ftrace (trampolines loaded, call sites initialised at object load) when it
// asks for it or uses an ftrace action.
bool uses_ftrace(const Scenario& s) {
    for (const auto& f : s.requires_features) {
        if (f == "ftrace" || f == "graph-tracer") {
            return true;
        }
    }
    return std::any_of(s.steps.begin(), s.steps.end(), [](const Step& step) {
        return std::holds_alternative<FtraceAction>(step.action);
    });
}

class MachineBackend : public Backend {
  public:
    MachineBackend(const Scenario& scenario, std::unique_ptr<emu::Machine> machine,
                   std::unique_ptr<patcher::Ftrace> ftrace, ChromeTraceProcess* trace)
        : m_s(scenario), m_machine(std::move(machine)), m_ftrace(std::move(ftrace)),
          m_events(*m_machine) {
        m_machine->add_observer(&m_events);
        if (trace) {
            m_trace = std::make_unique<CallTrace>(*m_machine, *trace);
            m_machine->add_observer(m_trace.get());
        }
    }
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
    std::vector<BackendEvent> take_events() override;
    Result<void> ftrace(const FtraceAction& action) override {
        if (!m_ftrace) {
            return make_error("ftrace is not set up for this scenario");
        }
        return m_ftrace->apply_action(action.enable, action.filter, action.tracer);
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
    int idle_cpu() const;

    const Scenario& m_s;
    std::unique_ptr<emu::Machine> m_machine;
    std::unique_ptr<patcher::Ftrace> m_ftrace; // Destroyed before the machine it observes.
    MachineEvents m_events;
    std::unique_ptr<CallTrace> m_trace;
    std::vector<std::string> m_objects;
    int m_next_cpu = 0;
};

Result<ObjectBytes> MachineBackend::object_bytes(const ObjectSpec& object) const {
    if (object.source_kind == SourceKind::InlineAsm) {
        // Diagnostics name the scenario file; the text is padded so its lines are the file's.
        return assemble(object.text, m_s.file.string());
    }
    CompileOptions options;
    options.compiler = object.compiler;
    if (m_s.machine.ftrace == "call-ops") {
        // CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS builds: an 8-byte ops literal before each function.
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
    if (m_ftrace) {
        if (auto r = m_ftrace->add_object(*loaded); !r) {
            return fail(r.error());
        }
    }
    return {};
}

std::vector<BackendEvent> MachineBackend::take_events() {
    auto events = m_events.take();
    if (!m_ftrace) {
        return events;
    }
    // Text writes and tracer lines, merged into the machine's events by the clock.
    for (auto& e : m_ftrace->take_events()) {
        BackendEvent b;
        b.kind = e.kind == patcher::Ftrace::Event::Kind::Patch ? BackendEvent::Kind::Patch
                                                               : BackendEvent::Kind::Log;
        b.text = std::move(e.text);
        b.instruction = e.instruction;
        events.push_back(std::move(b));
    }
    std::stable_sort(events.begin(), events.end(), [](const BackendEvent& a, const BackendEvent& b) {
        return a.instruction < b.instruction;
    });
    return events;
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
    emu::TaskSpec spec;
    spec.name = fmt::format("call:{}", function);
    spec.entry = GuestAddr(*addr);
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
        const bool with_ftrace = uses_ftrace(scenario);
        config.observe_memory_writes = with_ftrace; // store-below-sp
        auto machine = emu::Machine::create(config);
        if (!machine) {
            return make_error("{}: error: cannot create the machine: {}", scenario.file.string(),
                              machine.error().message);
        }
        std::unique_ptr<patcher::Ftrace> ftrace;
        if (with_ftrace) {
            auto variant = patcher::parse_trampoline_variant(scenario.machine.ftrace);
            if (!variant) {
                return make_error("{}: error: {}", scenario.file.string(), variant.error().message);
            }
            patcher::FtraceOptions options;
            options.variant = *variant;
            auto created = patcher::Ftrace::create(**machine, options);
            if (!created) {
                return make_error("{}: error: {}", scenario.file.string(), created.error().message);
            }
            ftrace = std::move(*created);
        }
        return std::unique_ptr<Backend>(std::make_unique<MachineBackend>(
            scenario, std::move(*machine), std::move(ftrace), trace));
    };
}

} // namespace klpemu::scenario
