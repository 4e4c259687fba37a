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
#include "scenarios/livepatch_shell.h"
#include "scenarios/machine_events.h"
#include "scenarios/unwind_check.h"
#include "unwinder/unwinder.h"

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
bool uses_livepatch(const Scenario& s) {
    return std::find(s.requires_features.begin(), s.requires_features.end(), "livepatch") !=
           s.requires_features.end();
}

bool uses_ftrace(const Scenario& s) {
    for (const auto& f : s.requires_features) {
        if (f == "ftrace" || f == "graph-tracer" || f == "livepatch") {
            return true;
        }
    }
    return std::any_of(s.steps.begin(), s.steps.end(), [](const Step& step) {
        return std::holds_alternative<FtraceAction>(step.action);
    });
}

class MachineBackend : public Backend, private ShellHost {
  public:
    MachineBackend(const Scenario& scenario, std::unique_ptr<emu::Machine> machine,
                   std::unique_ptr<patcher::Ftrace> ftrace, ChromeTraceProcess* trace,
                   std::vector<std::string> observed_policies)
        : m_s(scenario), m_machine(std::move(machine)), m_ftrace(std::move(ftrace)),
          m_events(*m_machine), m_observed(std::move(observed_policies)) {
        m_machine->add_observer(&m_events);
        if (trace) {
            m_trace = std::make_unique<CallTrace>(*m_machine, *trace);
            m_machine->add_observer(m_trace.get());
        }
    }
    // Installs the module loader if any object is a module or livepatch.
    void setup();

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
    std::vector<BackendEvent> take_events() override {
        flush();
        return std::exchange(m_pending, {});
    }
    Result<void> module_action(const ModuleAction& action) override;
    Result<void> ftrace(const FtraceAction& action) override;
    Result<RunStop> shell(const ShellAction& action) override;
    uint64_t instructions() const override { return m_machine->instructions(); }
    uint64_t cycles() const override;
    void finish() override {
        if (m_trace) {
            m_trace->finish();
        }
    }
    std::optional<UnwindReport> unwind_report() const override {
        if (!m_unwind) {
            return std::nullopt;
        }
        return m_unwind->report();
    }

  private:
    // ---- livepatch (scenarios/livepatch_shell.h) ----
    Result<void> place_module(std::string_view name) override;
    Result<void> unload_module(std::string_view name) override;
    Result<void> free_module_init(std::string_view name) override;
    Result<CallOutcome> call_task(GuestAddr fn, std::string_view name,
                                  std::span<const uint64_t> args, bool user) override;
    void note(std::string text) override;
    // Machine::run, servicing the livepatch engine's delayed work when it stops for it.
    Result<emu::RunResult> run_machine(uint64_t max = UINT64_MAX);

    Result<ObjectBytes> object_bytes(const ObjectSpec& object) const;
    int idle_cpu() const;
    Result<void> load_module(const ObjectSpec& object);
    Result<CallOutcome> call_at(GuestAddr addr, std::string_view name,
                                std::span<const uint64_t> args, bool user = false);
    // Moves what the machine and ftrace reported so far into m_pending, in order.
    void flush();
    // The stacktrace tracer: logs the current task's trace as the scenario's policy sees it
    // from inside the ftrace callback (stack_trace_save() called by a tracer).
    void log_stack_trace(patcher::FtraceCall& call);
    void objects_loaded() {
        if (m_unwind) {
            m_unwind->objects_loaded();
        }
        if (m_lp) {
            m_lp->objects_loaded();
        }
    }
    void tasks_created() {
        if (m_unwind) {
            m_unwind->tasks_created();
        }
    }

    const Scenario& m_s;
    std::unique_ptr<emu::Machine> m_machine;
    std::unique_ptr<patcher::Ftrace> m_ftrace; // Destroyed before the machine it observes.
    MachineEvents m_events;
    std::unique_ptr<CallTrace> m_trace;
    std::vector<std::string> m_objects;
    int m_next_cpu = 0;
    std::unique_ptr<patcher::Modules> m_modules; // Destroyed before ftrace, whose hook it is.
    std::vector<const ObjectSpec*> m_deferred;
    std::vector<BackendEvent> m_pending;
    std::vector<std::string> m_observed;
    std::vector<std::pair<std::string, patcher::OpsId>> m_stacktrace_ops; // Filter, ops.
    std::unique_ptr<UnwindCheck> m_unwind; // Destroyed first: it observes the machine.
    std::unique_ptr<LivepatchShell> m_lp;  // Destroyed before ftrace, whose ops it holds.
};

void MachineBackend::setup() {
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
    if (uses_livepatch(m_s) && m_ftrace) {
        auto lp = LivepatchShell::create(*m_machine, *m_ftrace, m_s.machine.unwinder);
        KLP_CHECK(lp.ok(), "livepatch: {}", lp.ok() ? "" : lp.error().message);
        m_lp = std::move(*lp);
    }
    auto asserted = asserted_policies(m_s.machine);
    if (!asserted.empty() || !m_observed.empty()) {
        m_unwind = std::make_unique<UnwindCheck>(*m_machine, m_ftrace.get(), std::move(asserted),
                                                 m_observed);
    }
}

Result<void> MachineBackend::ftrace(const FtraceAction& action) {
    if (!m_ftrace) {
        return make_error("ftrace is not set up for this scenario");
    }
    if (action.enable && action.tracer == "stacktrace") {
        patcher::FtraceOps ops;
        ops.name = "stacktrace";
        ops.filter = patcher::FtraceFilter(action.filter);
        ops.func = [this](patcher::FtraceCall& call) { log_stack_trace(call); };
        auto id = m_ftrace->register_ops(std::move(ops));
        if (!id) {
            return id.error();
        }
        m_stacktrace_ops.emplace_back(action.filter, *id);
        return {};
    }
    if (!action.enable) {
        auto it = std::find_if(m_stacktrace_ops.begin(), m_stacktrace_ops.end(),
                               [&](const auto& s) { return s.first == action.filter; });
        if (it != m_stacktrace_ops.end()) {
            KLP_TRY(m_ftrace->unregister_ops(it->second));
            m_stacktrace_ops.erase(it);
            return {};
        }
    }
    return m_ftrace->apply_action(action.enable, action.filter, action.tracer);
}

// Starts where stack_trace_save() called from the callback would (CALLER: the callback's
// return address into the trampoline and the trampoline's x29) and walks with the scenario's
// `unwinder` policy.
void MachineBackend::log_stack_trace(patcher::FtraceCall& call) {
    const int cpu = call.host.cpu();
    const emu::Task& task = call.host.task();
    const emu::CpuState state = m_machine->cpu_state(cpu);
    const unwinder::Registers regs{GuestAddr(state.x[30]), GuestAddr(state.x[30]),
                                   GuestAddr(state.x[29]), GuestAddr(state.sp)};
    const unwinder::MachineMemory memory(m_machine->memory());
    const std::vector<unwinder::KnownStack> stacks{
        unwinder::KnownStack{unwinder::StackKind::Task, task.stack}};
    unwinder::StackView view = unwinder::StackView::blocked(regs, memory, stacks, task.pt_regs,
                                                            unwinder::StopKind::Current);
    if (m_unwind) {
        view.graph = m_unwind->graph_stack(task.id);
        view.cfi = &m_unwind->cfi();
    }
    if (auto rth = m_machine->symbols().lookup("return_to_handler")) {
        view.return_to_handler = rth->addr;
    }
    const auto policy = unwinder::make_policy(m_s.machine.unwinder);
    const unwinder::UnwindResult result = policy->unwind(view);
    std::string trace;
    for (const GuestAddr a : result.return_addresses) {
        trace += trace.empty() ? "" : " <- ";
        trace += m_machine->symbolize(a).str();
    }
    note(fmt::format("stacktrace {} ({}: {}): {}", call.function, m_s.machine.unwinder,
                     result.reliable ? "reliable" : "unreliable, " + result.reason, trace));
}

void MachineBackend::note(std::string text) {
    flush();
    BackendEvent e;
    e.kind = BackendEvent::Kind::Log;
    e.text = std::move(text);
    e.instruction = m_machine->instructions();
    m_pending.push_back(std::move(e));
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
    if (object.kind != ObjectKind::Kernel) {
        const auto module_flags = module_compile_flags(object.name);
        options.extra_flags.insert(options.extra_flags.end(), module_flags.begin(),
                                   module_flags.end());
    }
    if (uses_livepatch(m_s)) {
        // klpemu's kernel-API headers (patcher/livepatch/include, docs/livepatch.md).
        options.extra_flags.push_back("-I" KLPEMU_SOURCE_ROOT "/patcher/livepatch/include");
        if (m_s.machine.unwinder == "cfi" && !m_s.machine.check_unwind) {
            options.extra_flags.push_back("-fasynchronous-unwind-tables"); // The policy's input.
        }
    }
    if (m_s.machine.check_unwind) {
        // The cfi policy's input. Only when the scenario asks for the check: the extra
        // .eh_frame section moves later objects, so `--policies` must not add it.
        options.extra_flags.push_back("-fasynchronous-unwind-tables");
    }
    options.extra_flags.insert(options.extra_flags.end(), object.cflags.begin(),
                               object.cflags.end());
    return load_source_file(object.path, options);
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
    // Modules loaded at start are quiet; a `module load` step reports what the loader did.
    const bool quiet = !object.deferred;
    auto say = [&](std::string line) {
        if (!quiet) {
            note(std::move(line));
        }
    };
    for (auto& line : m_modules->describe(**loaded)) {
        say(std::move(line));
    }
    if (const auto init = (*loaded)->init_fn) {
        auto outcome = call_at(*init, fmt::format("{}:init", object.name), {});
        if (!outcome) {
            return fail(outcome.error());
        }
        if (outcome->stop != RunStop::Done) {
            say(fmt::format("{}: init did not return", object.name));
            return {};
        }
        say(fmt::format("{}: init() = {}", object.name, format_guest_value(outcome->value)));
    }
    KLP_TRY(m_modules->free_init(object.name));
    say(fmt::format("{}: init memory freed", object.name));
    objects_loaded();
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
    m_objects.push_back(object.name);
    if (m_ftrace) {
        if (auto r = m_ftrace->add_object(*loaded); !r) {
            return fail(r.error());
        }
    }
    if (m_lp) {
        m_lp->kernel_object_loaded(object.name);
    }
    objects_loaded();
    return {};
}

void MachineBackend::flush() {
    auto events = m_events.take();
    if (m_lp) {
        // The kernel log first at an equal clock: a finding is about what the line announced.
        std::vector<BackendEvent> log;
        for (auto& line : m_lp->engine().take_log()) {
            if (line.finding) {
                BackendEvent e;
                e.kind = BackendEvent::Kind::Finding;
                e.instruction = line.instruction;
                e.cpu = line.finding->cpu.value_or(-1);
                e.task = line.finding->task;
                e.finding = std::move(*line.finding);
                log.push_back(std::move(e));
                continue;
            }
            log.push_back(line_event(BackendEvent::Kind::Log, std::move(line.text),
                                     line.instruction));
        }
        events.insert(events.begin(), std::make_move_iterator(log.begin()),
                      std::make_move_iterator(log.end()));
        std::stable_sort(events.begin(), events.end(),
                         [](const BackendEvent& a, const BackendEvent& b) {
                             return a.instruction < b.instruction;
                         });
    }
    if (m_unwind) {
        for (auto& f : m_unwind->take_findings()) {
            BackendEvent b;
            b.kind = BackendEvent::Kind::Finding;
            b.instruction = f.instruction;
            b.cpu = f.cpu.value_or(-1);
            b.task = f.task;
            b.finding = std::move(f);
            events.push_back(std::move(b));
        }
        std::stable_sort(events.begin(), events.end(),
                         [](const BackendEvent& a, const BackendEvent& b) {
                             return a.instruction < b.instruction;
                         });
    }
    if (!m_ftrace) {
        std::move(events.begin(), events.end(), std::back_inserter(m_pending));
        return;
    }
    // Text writes and tracer lines, merged into the machine's events by the clock.
    for (auto& e : m_ftrace->take_events()) {
        if (m_lp && e.kind == patcher::Ftrace::Event::Kind::Patch) {
            continue; // Livepatch transcripts are the kernel log, as the selftests see it.
        }
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

Result<emu::RunResult> MachineBackend::run_machine(uint64_t max) {
    auto r = m_machine->run(max);
    if (r && m_lp && r->reason == emu::StopReason::StopRequested) {
        auto ran = m_lp->service(*this);
        if (!ran) {
            return ran.error();
        }
    }
    return r;
}

Result<RunStop> MachineBackend::shell(const ShellAction& action) {
    if (!m_lp) {
        return make_error("'{}': the scenario does not require \"livepatch\"", action.shown);
    }
    return m_lp->run(*this, action);
}

Result<void> MachineBackend::place_module(std::string_view name) {
    auto it = std::find_if(m_deferred.begin(), m_deferred.end(),
                           [&](const ObjectSpec* o) { return o->name == name; });
    if (it == m_deferred.end()) {
        return make_error("insmod: no deferred [[object]] named '{}'", name);
    }
    if (m_modules->find(name)) {
        return make_error("insmod: '{}' is already loaded", name);
    }
    const ObjectSpec& object = **it;
    auto bytes = object_bytes(object);
    if (!bytes) {
        return bytes.error();
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
        return loaded.error();
    }
    m_objects.push_back(object.name);
    objects_loaded();
    return {};
}

Result<void> MachineBackend::unload_module(std::string_view name) {
    KLP_TRY(m_modules->unload(name));
    std::erase(m_objects, name);
    return {};
}

Result<void> MachineBackend::free_module_init(std::string_view name) {
    return m_modules->free_init(name);
}

Result<CallOutcome> MachineBackend::call_task(GuestAddr fn, std::string_view name,
                                              std::span<const uint64_t> args, bool user) {
    return call_at(fn, name, args, user);
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
    auto id = m_machine->create_task(spec);
    if (!id) {
        return id.error();
    }
    tasks_created();
    m_events.set_quiet(*id);
    m_events.stop_when_finished(*id);
    CallOutcome outcome;
    while (true) {
        auto r = run_machine();
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

BackendFactory machine_backend_factory(UnwindRequest request) {
    return [request](const Scenario& scenario,
                     ChromeTraceProcess* trace) -> Result<std::unique_ptr<Backend>> {
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
        // Policies the command line adds to the scenario's own (observed, not asserted).
        std::vector<std::string> observed = request.policies;
        if (request.report && observed.empty()) {
            observed.push_back(scenario.machine.unwinder);
        }
        const auto asserted = asserted_policies(scenario.machine);
        std::erase_if(observed, [&](const std::string& p) {
            return std::find(asserted.begin(), asserted.end(), p) != asserted.end();
        });
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
            // Before a7ed7b9d0ebb the generator's BRK went into a site no trampoline reaches.
            options.brk_on_range_error = !scenario.machine.module_init_ftrace_plt;
            auto created = patcher::Ftrace::create(**machine, options);
            if (!created) {
                return make_error("{}: error: {}", scenario.file.string(), created.error().message);
            }
            ftrace = std::move(*created);
        }
        auto backend = std::make_unique<MachineBackend>(scenario, std::move(*machine),
                                                        std::move(ftrace), trace,
                                                        std::move(observed));
        backend->setup();
        return std::unique_ptr<Backend>(std::move(backend));
    };
}

} // namespace klpemu::scenario
