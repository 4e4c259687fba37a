// See livepatch_feature.h.
#include "scenarios/livepatch_feature.h"

#include "patcher/livepatch/klp_convert.h"
#include "scenarios/ftrace_feature.h"

#include <algorithm>

namespace klpemu::scenario {

namespace {

bool wanted(const Scenario& s, const UnwindRequest& /*request*/) {
    return std::find(s.requires_features.begin(), s.requires_features.end(), "livepatch") !=
           s.requires_features.end();
}

void configure(const Scenario& /*s*/, emu::MachineConfig& /*config*/) {}

Result<std::unique_ptr<MachineFeature>> attach(FeatureHost& host) {
    auto* ftrace = host.feature<FtraceFeature>();
    auto* modules = host.feature<ModulesFeature>();
    if (!ftrace || !modules) {
        return make_error("livepatch needs ftrace and a module or livepatch [[object]]");
    }
    auto shell =
        LivepatchShell::create(host.machine(), ftrace->ftrace(), host.scenario().machine.unwinder,
                               host.request().policies);
    if (!shell) {
        return shell.error();
    }
    (*shell)->engine().set_modules(&modules->modules());
    return std::unique_ptr<MachineFeature>(
        std::make_unique<LivepatchFeature>(host, *modules, std::move(*shell)));
}

} // namespace

FeatureKind LivepatchFeature::kind() {
    return FeatureKind{"livepatch", wanted, configure, attach};
}

Result<void> LivepatchFeature::kernel_object_loaded(const LoadedObject& object) {
    m_shell->kernel_object_loaded(object.name);
    return {};
}

std::optional<Result<void>> LivepatchFeature::handle(const Action& action) {
    const auto* shell = std::get_if<ShellAction>(&action);
    if (!shell) {
        return std::nullopt;
    }
    auto r = m_shell->run(*this, *shell);
    if (!r) {
        return Result<void>(r.error());
    }
    return Result<void>{};
}

void LivepatchFeature::annotate_unwind_report(UnwindReport& report) const {
    for (auto& p : report.policies) {
        p.transition = m_shell->transition_verdict(p.policy);
    }
}

bool LivepatchFeature::take_events(std::vector<BackendEvent>& out) {
    for (auto& line : m_shell->engine().take_log()) {
        BackendEvent e;
        e.instruction = line.instruction;
        if (line.finding) {
            e.kind = BackendEvent::Kind::Finding;
            e.cpu = line.finding->cpu.value_or(-1);
            e.task = line.finding->task;
            e.finding = std::move(*line.finding);
        } else {
            e.kind = BackendEvent::Kind::Log;
            e.text = std::move(line.text);
        }
        out.push_back(std::move(e));
    }
    return true;
}

Result<void> LivepatchFeature::stop_requested() {
    if (m_services.take_new_tasks()) {
        m_host.tasks_created();
    }
    auto r = m_shell->service(*this);
    if (!r) {
        return r.error();
    }
    return {};
}

Result<void> LivepatchFeature::place_module(std::string_view name) {
    const auto& objects = m_host.scenario().objects;
    auto it = std::find_if(objects.begin(), objects.end(),
                           [&](const ObjectSpec& o) { return o.deferred && o.name == name; });
    if (it == objects.end()) {
        const bool at_start = std::any_of(objects.begin(), objects.end(),
                                          [&](const ObjectSpec& o) { return o.name == name; });
        return at_start ? make_error("insmod {}: [[object]] '{}' is loaded at start; a module "
                                     "insmod loads needs deferred = true",
                                     name, name)
                        : make_error("insmod {}: the scenario declares no module [[object]] "
                                     "named '{}' (with deferred = true)",
                                     name, name);
    }
    if (m_modules.modules().find(name)) {
        return make_error("insmod: '{}' is already loaded", name);
    }
    auto bytes = m_host.object_bytes(*it);
    if (!bytes) {
        return bytes.error();
    }
    if (it->kind == ObjectKind::Livepatch) {
        // klp-build's post-link step: `.klp.sym.*` references become `.klp.rela.*` sections.
        bytes = patcher::livepatch::klp_convert(*bytes);
        if (!bytes) {
            return bytes.error();
        }
    }
    patcher::ModuleSpec spec;
    spec.name = it->name;
    spec.kind = it->kind;
    spec.core = module_place(it->placement, it->address);
    if (it->init_placement != Placement::Default) {
        spec.init = module_place(it->init_placement, it->init_address);
    }
    auto loaded = m_modules.modules().load(*bytes, spec);
    if (!loaded) {
        return loaded.error();
    }
    m_host.object_added(it->name);
    m_host.objects_loaded();
    return {};
}

Result<void> LivepatchFeature::unload_module(std::string_view name) {
    KLP_TRY(m_modules.modules().unload(name));
    m_host.object_removed(name);
    return {};
}

Result<void> LivepatchFeature::free_module_init(std::string_view name) {
    return m_modules.modules().free_init(name);
}

Result<CallOutcome> LivepatchFeature::call_task(GuestAddr fn, std::string_view name,
                                                std::span<const uint64_t> args, bool user) {
    return m_host.call_at(fn, name, args, user);
}

Result<RunStop> LivepatchFeature::run_for(uint64_t instructions) {
    emu::Machine& machine = m_host.machine();
    const uint64_t end = machine.instructions() + instructions;
    while (true) {
        auto r = machine.run(end - machine.instructions());
        if (!r) {
            return r.error();
        }
        if (r->reason == emu::StopReason::StopRequested) {
            KLP_TRY(stop_requested());
            if (machine.instructions() < end) {
                continue;
            }
        }
        return to_run_stop(r->reason);
    }
}

} // namespace klpemu::scenario
