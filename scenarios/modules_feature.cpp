// The module-loader feature (see modules_feature.h).
#include "scenarios/modules_feature.h"

#include "scenarios/ftrace_feature.h"
#include "scenarios/guest_value.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::scenario {

namespace {

bool wanted(const Scenario& s, const UnwindRequest& /*request*/) {
    return std::any_of(s.objects.begin(), s.objects.end(), [](const ObjectSpec& o) {
        return o.kind != ObjectKind::Kernel || o.deferred;
    });
}

void configure(const Scenario& /*scenario*/, emu::MachineConfig& /*config*/) {}

Result<std::unique_ptr<MachineFeature>> attach(FeatureHost& host) {
    patcher::ModuleOptions options;
    options.erratum_843419 = host.scenario().machine.erratum_843419;
    options.init_ftrace_plt = host.scenario().machine.module_init_ftrace_plt;
    options.plt_format = patcher::era_plt_format(host.machine().config().era);
    auto* ftrace = host.feature<FtraceFeature>();
    auto modules = std::make_unique<patcher::Modules>(host.machine(), options,
                                                      ftrace ? &ftrace->ftrace() : nullptr);
    return std::unique_ptr<MachineFeature>(
        std::make_unique<ModulesFeature>(host, std::move(modules)));
}

} // namespace

patcher::ModulePlace module_place(Placement placement, uint64_t address) {
    switch (placement) {
    case Placement::Far:
        return {emu::Placement::Far, {}};
    case Placement::Address:
        return {emu::Placement::At, GuestAddr(address)};
    case Placement::Default:
    case Placement::Near:
        break;
    }
    return {emu::Placement::Near, {}};
}

FeatureKind ModulesFeature::kind() {
    return FeatureKind{"modules", wanted, configure, attach};
}

std::optional<Result<void>> ModulesFeature::claim_object(const ObjectSpec& object) {
    if (object.deferred) {
        m_deferred.push_back(&object);
        return Result<void>{};
    }
    if (object.kind != ObjectKind::Kernel) {
        return load_module(object);
    }
    return std::nullopt;
}

// load_module + do_init_module: place and link, run `init`, free init memory.
Result<void> ModulesFeature::load_module(const ObjectSpec& object) {
    auto fail = [&](const Error& e) {
        return located_error(object.loc,
                             fmt::format("cannot load module '{}':\n{}", object.name, e.message));
    };
    auto bytes = m_host.object_bytes(object);
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
    m_host.object_added(object.name);
    // Modules loaded at start are quiet; a `module load` step reports what the loader did.
    const bool quiet = !object.deferred;
    auto say = [&](std::string line) {
        if (!quiet) {
            m_host.note(std::move(line));
        }
    };
    for (auto& line : m_modules->describe(**loaded)) {
        say(std::move(line));
    }
    if (const auto init = (*loaded)->init_fn) {
        auto outcome = m_host.call_at(*init, fmt::format("{}:init", object.name), {});
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
    m_host.objects_loaded();
    return {};
}

std::optional<Result<void>> ModulesFeature::handle(const Action& any) {
    const auto* action = std::get_if<ModuleAction>(&any);
    if (action == nullptr) {
        return std::nullopt;
    }
    if (!action->load) {
        if (!m_modules->find(action->name)) {
            return make_error("module unload: '{}' is not loaded", action->name);
        }
        KLP_TRY(m_modules->unload(action->name));
        m_host.object_removed(action->name);
        m_host.note(fmt::format("{}: unloaded", action->name));
        return Result<void>{};
    }
    auto it = std::find_if(m_deferred.begin(), m_deferred.end(),
                           [&](const ObjectSpec* o) { return o->name == action->name; });
    if (it == m_deferred.end()) {
        return make_error("module load: no deferred [[object]] named '{}' (modules are loaded by "
                          "a step only with deferred = true)",
                          action->name);
    }
    if (m_modules->find(action->name)) {
        return make_error("module load: '{}' is already loaded", action->name);
    }
    return load_module(**it);
}

} // namespace klpemu::scenario
