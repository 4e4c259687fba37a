// Features that attach to the machine backend. The kernel grows by subsystems that hook into a
// few well-defined places (ftrace into every function entry, the module loader into object
// loading, livepatch into both); the machine backend grows the same way. A feature is one small
// object, in one file, that attaches itself to a scenario's machine and then takes part in the
// backend's few moments:
//
//   moment                         hook                         today's features
//   ---------------------------    ---------------------------  ------------------------------
//   machine configuration          FeatureKind::configure       stack-check: memory writes
//   attach (machine exists, no     FeatureKind::attach          stack-check: store-below-sp
//                                                               ftrace: trampolines, host calls
//     scenario object yet)                                      modules: loader, PLT observer
//                                                               unwind: reliability checker
//   an [[object]] to load          claim_object                 modules: modules, deferred ones
//   a kernel object was mapped     kernel_object_loaded         ftrace: ftrace_init_nop
//   objects / tasks appeared       objects_loaded/tasks_created unwind: CFI, graph stacks
//   a scenario action              handle                       ftrace: `ftrace ...`;
//                                                               modules: `module load|unload`
//   transcript lines               take_events                  ftrace: patches, trace lines;
//                                                               unwind: findings
//   end of the timeline            finish / unwind_report       unwind: the report
//
// Adding a mechanism (livepatch next) adds one `livepatch_feature.{h,cpp}` and one line in
// machine_features.cpp: its FeatureKind says when a scenario wants it (an [[object]] with
// kind = "livepatch", a `livepatch ...` action); attach() finds the features it builds on
// (host.feature<FtraceFeature>() for the ops it registers as one more ftrace ops client,
// host.feature<ModulesFeature>() to have its module loaded); handle() takes its actions (a new
// alternative of scenario::Action; the runner's action dispatch gets one line handing it to
// Backend::feature_action); claim_object() loads its objects; observers it needs it adds to
// host.machine() in attach() and removes in its destructor; take_events() returns the
// transcript lines it produces (`livepatch: enabling patch 'p'`), stamped with the machine
// clock, and findings go through the machine's finding emitter. No other backend function changes.
#pragma once

#include "emu/image.h"
#include "emu/machine.h"
#include "emu/result.h"
#include "scenarios/backend.h"
#include "scenarios/scenario_file.h"
#include "scenarios/unwind_check.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::scenario {

class MachineFeature;

// What the machine backend offers its features.
class FeatureHost {
  public:
    virtual ~FeatureHost() = default;
    virtual emu::Machine& machine() = 0;
    virtual const Scenario& scenario() const = 0;
    // What the command line asked for (`--policies`, `--report unwind`).
    virtual const UnwindRequest& request() const = 0;
    // Appends a transcript line after everything reported so far.
    virtual void note(std::string text) = 0;
    // Appends a line a shell command printed (not the kernel log), like note().
    virtual void output(std::string text) = 0;
    // Where compiled objects and preprocessed sources are cached (emu/compile_cache.h);
    // nullopt with `klpemu run --no-cache`.
    virtual const std::optional<std::filesystem::path>& compile_cache() const = 0;
    // The object's ELF bytes: assembled or compiled with the flags the [machine] asks for.
    virtual Result<ObjectBytes> object_bytes(const ObjectSpec& object) const = 0;
    // Runs `addr(args)` on a fresh kthread until it returns (a module's init).
    // With `user`, a user task that makes it its one syscall (it passes exit-to-user after).
    virtual Result<CallOutcome> call_at(GuestAddr addr, std::string_view name,
                                        std::span<const uint64_t> args, bool user = false) = 0;
    // Names an object whose symbols `symbol_address` searches (locals included), or forgets it.
    virtual void object_added(std::string name) = 0;
    virtual void object_removed(std::string_view name) = 0;
    // Tells every feature that objects were loaded (CFI, symbols to re-resolve).
    virtual void objects_loaded() = 0;
    // Tells every feature that tasks were created (a host call started a kthread).
    virtual void tasks_created() = 0;
    // The attached feature of type T, or null.
    template <typename T> T* feature() {
        for (MachineFeature* f : features()) {
            if (auto* t = dynamic_cast<T*>(f)) {
                return t;
            }
        }
        return nullptr;
    }

  protected:
    virtual std::vector<MachineFeature*> features() = 0;
};

// One attached feature. Every hook has a do-nothing default: a feature overrides the moments it
// takes part in.
class MachineFeature {
  public:
    virtual ~MachineFeature() = default;

    // Loads `object` if this feature owns objects of its kind (modules, deferred objects);
    // nullopt: not ours. `bytes` were already built once (errors reported).
    virtual std::optional<Result<void>> claim_object(const ObjectSpec& /*object*/) {
        return std::nullopt;
    }
    // A kernel object was mapped (before any of its code runs).
    virtual Result<void> kernel_object_loaded(const LoadedObject& /*object*/) { return {}; }
    virtual void objects_loaded() {}
    virtual void tasks_created() {}
    // A scenario action; nullopt: not ours.
    virtual std::optional<Result<void>> handle(const Action& /*action*/) { return std::nullopt; }
    // Appends what this feature reported since the previous call (clock-stamped). True: the
    // feature reports events at all, and the backend orders the batch by the clock after it.
    virtual bool take_events(std::vector<BackendEvent>& /*out*/) { return false; }
    virtual std::optional<UnwindReport> unwind_report() const { return std::nullopt; }
    // Adds this feature's per-policy figures to the report another feature made.
    virtual void annotate_unwind_report(UnwindReport& /*report*/) const {}
    // Fills in the part of the step debugger's view this feature owns (scenarios/debug_access.h).
    virtual void describe(DebugAccess& /*access*/) {}
    // The machine stopped because some observer asked (Machine::request_stop): run deferred
    // work that needs the machine (livepatch's delayed transition work).
    virtual Result<void> stop_requested() { return {}; }
};

// How the runner sees why the machine stopped (defined in machine_backend.cpp).
RunStop to_run_stop(emu::StopReason r);

// How a scenario gets a feature.
struct FeatureKind {
    std::string_view name;
    // Does `scenario` (with the command line's `request`) use it?
    bool (*wanted)(const Scenario& scenario, const UnwindRequest& request);
    // Adjusts the machine before it is created (only when wanted).
    void (*configure)(const Scenario& scenario, emu::MachineConfig& config);
    // Attaches to the machine; features of kinds listed before it are already attached. Errors
    // are reported as `scenario.toml: error: MESSAGE`.
    Result<std::unique_ptr<MachineFeature>> (*attach)(FeatureHost& host);
};

} // namespace klpemu::scenario
