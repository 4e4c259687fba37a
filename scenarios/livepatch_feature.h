// The livepatch feature of the machine backend (machine_feature.h): attaches klpemu's livepatch
// engine and the selftests' shell (livepatch_shell.h) to a scenario that requires "livepatch",
// as one more ftrace ops client (FtraceFeature) whose modules the module loader
// (ModulesFeature) places. It takes the shell actions (ShellAction), reports the kernel log and
// the engine's findings in order, and runs the delayed transition work when the engine stops
// the machine for it.
#pragma once

#include "scenarios/kernel_services.h"
#include "scenarios/livepatch_shell.h"
#include "scenarios/machine_feature.h"
#include "scenarios/modules_feature.h"

#include <memory>

namespace klpemu::scenario {

class LivepatchFeature final : public MachineFeature, private ShellHost {
  public:
    static FeatureKind kind();

    LivepatchFeature(FeatureHost& host, ModulesFeature& modules,
                     std::unique_ptr<LivepatchShell> shell)
        : m_host(host), m_modules(modules), m_shell(std::move(shell)),
          m_services(host.machine(),
                     patcher::livepatch::LivepatchOptions{}.instructions_per_second) {}

    Result<void> kernel_object_loaded(const LoadedObject& object) override;
    void objects_loaded() override { m_shell->objects_loaded(); }
    std::optional<Result<void>> handle(const Action& action) override;
    bool take_events(std::vector<BackendEvent>& out) override;
    void annotate_unwind_report(UnwindReport& report) const override;
    Result<void> stop_requested() override;

  private:
    // ShellHost.
    Result<void> place_module(std::string_view name) override;
    Result<void> unload_module(std::string_view name) override;
    Result<void> free_module_init(std::string_view name) override;
    Result<CallOutcome> call_task(GuestAddr fn, std::string_view name,
                                  std::span<const uint64_t> args, bool user) override;
    Result<RunStop> run_for(uint64_t instructions) override;
    void note(std::string line) override { m_host.note(std::move(line)); }
    void output(std::string line) override { m_host.output(std::move(line)); }

    FeatureHost& m_host;
    ModulesFeature& m_modules;
    std::unique_ptr<LivepatchShell> m_shell;
    KernelServices m_services; // kthreads and jiffies for the guest kernel's workqueue.c
};

} // namespace klpemu::scenario
