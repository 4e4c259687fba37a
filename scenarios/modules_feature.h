// The module-loader feature of the machine backend (machine_feature.h): patcher::Modules
// attached when any [[object]] is a module or livepatch (or is deferred). It loads those
// objects as load_module + do_init_module do (place, link, PLTs, ftrace call sites, run init,
// free init memory) and takes the `module load|unload NAME` actions; a `module load` step
// reports what the loader did as transcript lines.
#pragma once

#include "patcher/modules.h"
#include "scenarios/machine_feature.h"

#include <memory>
#include <vector>

namespace klpemu::scenario {

// A scenario object's placement (near, far, an address) as the module loader's placement.
patcher::ModulePlace module_place(Placement placement, uint64_t address);

class ModulesFeature final : public MachineFeature {
  public:
    static FeatureKind kind();

    ModulesFeature(FeatureHost& host, std::unique_ptr<patcher::Modules> modules)
        : m_host(host), m_modules(std::move(modules)) {}

    patcher::Modules& modules() { return *m_modules; }
    void describe(DebugAccess& access) override { access.modules = m_modules.get(); }

    std::optional<Result<void>> claim_object(const ObjectSpec& object) override;
    std::optional<Result<void>> handle(const Action& action) override;

  private:
    Result<void> load_module(const ObjectSpec& object);

    FeatureHost& m_host;
    std::unique_ptr<patcher::Modules> m_modules;
    std::vector<const ObjectSpec*> m_deferred;
};

} // namespace klpemu::scenario
