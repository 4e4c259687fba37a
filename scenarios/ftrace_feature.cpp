// The ftrace feature (see ftrace_feature.h).
#include "scenarios/ftrace_feature.h"

#include "scenarios/unwind_feature.h"
#include "unwinder/unwinder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace klpemu::scenario {

namespace {

bool wanted(const Scenario& s, const UnwindRequest& /*request*/) {
    for (const auto& f : s.requires_features) {
        if (f == "ftrace" || f == "graph-tracer" || f == "livepatch") {
            return true;
        }
    }
    return std::any_of(s.steps.begin(), s.steps.end(), [](const Step& step) {
        return std::holds_alternative<FtraceAction>(step.action);
    });
}

void configure(const Scenario& /*scenario*/, emu::MachineConfig& /*config*/) {}

Result<std::unique_ptr<MachineFeature>> attach(FeatureHost& host) {
    const Scenario& scenario = host.scenario();
    KLP_TRY_ASSIGN(variant, patcher::parse_trampoline_variant(scenario.machine.ftrace));
    KLP_TRY_ASSIGN(era, emu::parse_kernel_era(scenario.machine.kernel));
    patcher::FtraceOptions options;
    options.variant = variant;
    options.era = era;
    // Before a7ed7b9d0ebb the generator's BRK went into a site no trampoline reaches.
    options.brk_on_range_error = scenario.machine.init_plt_brk;
    if (!scenario.machine.ftrace_source.empty()) {
        options.source =
            patcher::FtraceSourceSpec{scenario.machine.ftrace_source, scenario.machine.kconfig,
                                      scenario.machine.ftrace_source_edit, host.compile_cache()};
    }
    KLP_TRY_ASSIGN(ftrace, patcher::Ftrace::create(host.machine(), options));
    return std::unique_ptr<MachineFeature>(
        std::make_unique<FtraceFeature>(host, std::move(ftrace)));
}

} // namespace

FeatureKind FtraceFeature::kind() {
    return FeatureKind{"ftrace", wanted, configure, attach};
}

Result<void> FtraceFeature::kernel_object_loaded(const LoadedObject& object) {
    return m_ftrace->add_object(object);
}

std::optional<Result<void>> FtraceFeature::handle(const Action& any) {
    const auto* action = std::get_if<FtraceAction>(&any);
    if (action == nullptr) {
        return std::nullopt;
    }
    auto done = perform(*action);
    if (!done && done.error().code == ENODEV) {
        // After ftrace_kill the kernel refuses (the tracefs write fails with ENODEV); the
        // scenario goes on, as the kernel does, and the transcript says what was refused.
        m_host.note(done.error().message);
        return Result<void>{};
    }
    return done;
}

Result<void> FtraceFeature::perform(const FtraceAction& action) {
    if (action.direct != FtraceAction::Direct::None) {
        return direct_action(action);
    }
    if (action.enable && (action.tracer == "stacktrace" || action.tracer == "save_regs")) {
        patcher::FtraceOps ops;
        ops.name = action.tracer;
        ops.filter = patcher::FtraceFilter(action.filter);
        if (action.tracer == "save_regs") {
            ops.flags.set(patcher::FtraceOpsFlag::SaveRegs);
            ops.func = [this](patcher::FtraceCall& call) { log_saved_regs(call); };
        } else {
            ops.func = [this](patcher::FtraceCall& call) { log_stack_trace(call); };
        }
        KLP_TRY_ASSIGN(id, m_ftrace->register_ops(std::move(ops)));
        m_callback_ops.emplace_back(action.filter, id);
        return {};
    }
    if (!action.enable) {
        auto it = std::find_if(m_callback_ops.begin(), m_callback_ops.end(),
                               [&](const auto& s) { return s.first == action.filter; });
        if (it != m_callback_ops.end()) {
            KLP_TRY(m_ftrace->unregister_ops(it->second));
            m_callback_ops.erase(it);
            return {};
        }
    }
    return m_ftrace->apply_action(action.enable, action.filter, action.tracer);
}

// register_ftrace_direct / modify_ftrace_direct / unregister_ftrace_direct on the functions the
// filter names, one direct ops per filter text.
Result<void> FtraceFeature::direct_action(const FtraceAction& action) {
    auto it = std::find_if(m_direct_ops.begin(), m_direct_ops.end(),
                           [&](const auto& d) { return d.first == action.filter; });
    GuestAddr tramp;
    if (action.direct != FtraceAction::Direct::Unregister) {
        auto sym = m_host.machine().symbol(action.trampoline);
        if (!sym.ok()) {
            return make_error("ftrace: direct trampoline: {}", sym.error().message);
        }
        tramp = *sym;
    }
    switch (action.direct) {
    case FtraceAction::Direct::Register: {
        if (it != m_direct_ops.end()) {
            return make_error("ftrace register_direct: '{}' already has a direct ops (use "
                              "modify_direct)",
                              action.filter);
        }
        KLP_TRY_ASSIGN(id, m_ftrace->register_direct("direct " + action.filter,
                                                     patcher::FtraceFilter(action.filter), tramp));
        m_direct_ops.emplace_back(action.filter, id);
        return {};
    }
    case FtraceAction::Direct::Modify:
    case FtraceAction::Direct::Unregister:
        if (it == m_direct_ops.end()) {
            return make_error("ftrace: no direct ops was registered for '{}'", action.filter);
        }
        if (action.direct == FtraceAction::Direct::Modify) {
            return m_ftrace->modify_direct(it->second, tramp);
        }
        KLP_TRY(m_ftrace->unregister_direct(it->second));
        m_direct_ops.erase(it);
        return {};
    case FtraceAction::Direct::None:
        break;
    }
    KLP_UNREACHABLE("ftrace action without a direct kind");
}

// Starts where stack_trace_save() called from the callback would (CALLER: the callback's
// return address into the trampoline and the trampoline's x29) and walks with the scenario's
// `unwinder` policy.
void FtraceFeature::log_stack_trace(patcher::FtraceCall& call) {
    emu::Machine& machine = m_host.machine();
    const std::string& policy_name = m_host.scenario().machine.unwinder;
    const int cpu = call.host.cpu();
    const emu::Task& task = call.host.task();
    const emu::CpuState state = machine.cpu_state(cpu);
    const unwinder::Registers regs{GuestAddr(state.x[30]), GuestAddr(state.x[30]),
                                   GuestAddr(state.x[29]), GuestAddr(state.sp)};
    const unwinder::MachineMemory memory(machine.memory());
    const std::vector<unwinder::KnownStack> stacks{
        unwinder::KnownStack{unwinder::StackKind::Task, task.stack}};
    unwinder::StackView view = unwinder::StackView::blocked(regs, memory, stacks, task.pt_regs,
                                                            unwinder::StopKind::Current);
    std::vector<GuestAddr> bottoms; // seed-v4's kthread bottom, when no checker has it.
    if (auto* unwind = m_host.feature<UnwindFeature>()) {
        view.graph = unwind->check().graph_stack(task.id);
        view.cfi = &unwind->check().cfi();
        view.bottom_return_addresses = unwind->check().bottom_return_addresses();
    } else {
        bottoms = unwinder::bottom_return_addresses(machine.symbols(), memory);
        view.bottom_return_addresses = bottoms;
    }
    if (auto rth = machine.symbols().lookup("return_to_handler")) {
        view.return_to_handler = rth->addr;
    }
    const auto policy = unwinder::make_policy(policy_name);
    const unwinder::UnwindResult result = policy->unwind(view);
    std::string trace;
    for (const GuestAddr a : result.return_addresses) {
        trace += trace.empty() ? "" : " <- ";
        trace += machine.symbolize(a).str();
    }
    m_host.note(fmt::format("stacktrace {} ({}: {}): {}", call.function, policy_name,
                            result.reliable ? "reliable" : "unreliable, " + result.reason, trace));
    auto* unwind = m_host.feature<UnwindFeature>();
    if (unwind && result.reliable) {
        if (auto f = unwind->check().judge_reliable_trace(task, cpu, GuestAddr(state.pc),
                                                          policy_name, "stacktrace tracer",
                                                          result.return_addresses)) {
            machine.add_finding(std::move(*f));
        }
    }
}

void FtraceFeature::log_saved_regs(patcher::FtraceCall& call) {
    const emu::Machine& machine = m_host.machine();
    m_host.note(fmt::format("save_regs {} <- {} (pt_regs: pc {}, lr {})", call.function,
                            machine.symbolize(call.parent_ip), machine.symbolize(call.regs.pc()),
                            machine.symbolize(call.regs.lr())));
}

// Text writes and tracer lines, merged into the machine's events by the clock.
bool FtraceFeature::take_events(std::vector<BackendEvent>& out) {
    const auto& req = m_host.scenario().requires_features;
    const bool kernel_log_only = std::find(req.begin(), req.end(), "livepatch") != req.end();
    for (auto& e : m_ftrace->take_events()) {
        if (kernel_log_only && e.kind == patcher::Ftrace::Event::Kind::Patch) {
            continue; // Livepatch transcripts are the kernel log, as the selftests see it.
        }
        BackendEvent b;
        b.kind = e.kind == patcher::Ftrace::Event::Kind::Patch ? BackendEvent::Kind::Patch
                                                               : BackendEvent::Kind::Trace;
        b.text = std::move(e.text);
        b.instruction = e.instruction;
        out.push_back(std::move(b));
    }
    return true;
}

} // namespace klpemu::scenario
