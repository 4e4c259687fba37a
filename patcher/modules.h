// Loadable modules as the arm64 kernel places and links them (kernel/module/main.c,
// arch/arm64/kernel/module.c, module-plts.c; reference §4). A module's core memory and its init
// memory are separate regions: since v6.5 (3e35d303ab7d) each may land anywhere in a 2 GiB
// window, so they can be far from the kernel and from each other. Loading counts the branch
// relocations that may need PLTs, reserves `.plt`, `.init.plt` and one ftrace PLT per text
// memory (`.text.ftrace_trampoline`, `.init.text.ftrace_trampoline`, the latter added by
// a7ed7b9d0ebb), links through the loader with module_emit_plt_entry as its BranchRangeHook,
// maps, writes the PLTs, and hands the call sites to ftrace. After the module's `init` has run,
// its init memory is freed: executing there later is `exec-freed-init`.
//
// A call to an undefined weak symbol goes through a PLT entry too: simplify_symbols leaves the
// symbol at 0, count_plts reserved a slot (the symbol is not in the calling section), and
// get_plt_entry builds an ADRP whose page delta aarch64_insn_gen_adr truncated to 32 bits. The
// module loads; if the call ever runs, that is `undefined-weak-call`.
//
// Checks (docs/findings.md): plt-overflow, plt-clobber, exec-freed-init, undefined-weak-call.
#pragma once

#include "emu/address_filter.h"
#include "emu/finding.h"
#include "emu/guest_addr.h"
#include "emu/image.h"
#include "emu/machine.h"
#include "emu/object_bytes.h"
#include "emu/observer.h"
#include "emu/result.h"
#include "patcher/module_plts.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::patcher {

// How far `to` lies from `from`, as the module placement lines print it: "+12 MiB", "-64 KiB"
// (rounded down to whole KiB below 1 MiB, whole MiB above).
std::string format_distance(GuestAddr from, GuestAddr to);

class Ftrace;

// Where one module memory goes: near the kernel, far (>= 2 GiB away) or at an address.
struct ModulePlace {
    emu::Placement placement = emu::Placement::Near;
    GuestAddr at; // Placement::At only.
};

struct ModuleSpec {
    std::string name;
    ObjectKind kind = ObjectKind::Module;
    ModulePlace core;
    std::optional<ModulePlace> init; // nullopt: beside the core, in the same area.
};

struct ModuleOptions {
    // ARM64_WORKAROUND_843419: no PLT entry's ADRP at page offset 0xff8/0xffc.
    bool erratum_843419 = false;
    // struct plt_entry of the era (EraFeature::AdrpPlts): movn/movk up to 4.19, adrp/add after.
    PltFormat plt_format = PltFormat::AdrpAdd;
    // a7ed7b9d0ebb: init text gets its own ftrace PLT. false models v6.5..v6.17-rc4, where init
    // call sites used the core's PLT and, out of reach, got BRK #0x100 patched in.
    bool init_ftrace_plt = true;
    // Entries added to (or, negative, taken from) what count_plts reserves: models a miscount.
    int64_t plt_reserve_adjust = 0;
};

// One loaded module.
struct Module {
    std::string name;
    ObjectKind kind = ObjectKind::Module;
    LoadedObject object;
    GuestRange core;                   // Core memory (text, rodata, data, .plt, ftrace PLT).
    GuestRange init;                   // Init memory (.init.*, .init.plt, init ftrace PLT).
    PltCounts counts;                  // What count_plts reserved.
    PltSection plt;                    // .plt
    PltSection init_plt;               // .init.plt
    std::optional<GuestAddr> ftrace_plt;      // .text.ftrace_trampoline
    std::optional<GuestAddr> init_ftrace_plt; // .init.text.ftrace_trampoline
    std::optional<GuestAddr> init_fn;  // The `init` (or `init_module`) function, if any.
    // check_modinfo_livepatch: `.modinfo` has a "livepatch" tag (MODULE_INFO(livepatch, "Y")),
    // which makes it a livepatch module (mod->klp, is_livepatch_module()).
    bool klp = false;
    bool init_freed = false;
};

class Modules final : public emu::ExecutionObserver {
  public:
    // Observes `machine` for the module checks and, if `ftrace` is given, becomes its source of
    // module ftrace PLTs. Contract: both outlive this object.
    Modules(emu::Machine& machine, ModuleOptions options, Ftrace* ftrace = nullptr);
    ~Modules() override;
    Modules(const Modules&) = delete;
    Modules& operator=(const Modules&) = delete;

    // load_module up to (not including) do_init_module: place, link, map, write PLTs, hand the
    // call sites to ftrace (init NOPs, then ftrace_module_enable). Errors name the module; a PLT
    // overflow is also a `plt-overflow` finding.
    Result<const Module*> load(const ObjectBytes& object, const ModuleSpec& spec);
    // The end of do_init_module: frees init memory (poisoned, forgotten by ftrace).
    Result<void> free_init(std::string_view name);
    // delete_module: forgets the module's symbols and call sites; its memory stays mapped.
    Result<void> unload(std::string_view name);

    const Module* find(std::string_view name) const;

    // module_emit_plt_entry for a relocation applied after load (livepatch's
    // klp_apply_section_relocs through apply_relocate_add): an entry of `module`'s .plt (or
    // .init.plt for a place in init memory) forwarding to `target`, written into the guest.
    // Errors: unknown module, PLT overflow (also a `plt-overflow` finding).
    Result<GuestAddr> emit_late_plt(std::string_view module, GuestAddr place, GuestAddr target,
                                    const std::string& symbol);
    const std::vector<std::unique_ptr<Module>>& modules() const { return m_modules; }

    // get_ftrace_plt: the ftrace PLT entry that branches to `entry` for a call site at `pc`
    // (in the init PLT for init text when it exists, else in the core one), or nullopt outside
    // any module or for an entry no PLT entry targets.
    std::optional<GuestAddr> ftrace_plt_for(GuestAddr pc, GuestAddr entry) const;

    // Transcript lines for a loaded module: placement, PLT counts against the reservation,
    // each entry as `plt[3] -> kernel_func`.
    std::vector<std::string> describe(const Module& module) const;

    // ExecutionObserver.
    void on_instruction(const emu::InsnEvent& ev) override;
    void on_exception_entry(int cpu, int task, emu::ExceptionKind kind, GuestAddr pc) override;

  private:
    class PltHook;
    struct PendingPlt {
        emu::CpuState entry;
        GuestAddr slot;
        bool ftrace = false;
        int task = -1; // The task that entered the entry.
    };
    // A PLT entry written into guest text.
    struct LivePlt {
        bool ftrace = false;
        const PltSection* plt = nullptr; // The module PLT holding it (null for ftrace PLTs).
        const PltSlot* slot = nullptr;
    };

    Result<void> write_plts(Module& module);
    // sizeof(struct plt_entry) of the era: every PLT of these modules has entries this size.
    uint64_t plt_entry_bytes() const { return plt_entry_size(m_options.plt_format); }
    void check_plt_exit(const emu::InsnEvent& ev, const PendingPlt& pending);
    void report_undefined_weak_call(const emu::InsnEvent& ev, const LivePlt& plt);
    void add_finding(std::string kind, Severity severity, GuestAddr pc, std::optional<int> cpu,
                     int task, std::string message);

    emu::Machine& m_machine;
    ModuleOptions m_options;
    Ftrace* m_ftrace;
    std::vector<std::unique_ptr<Module>> m_modules;
    // Live PLT entries, consulted at every instruction behind a filter of every slot address
    // ever live (set_plt_slot adds to both).
    std::map<GuestAddr, LivePlt> m_plt_slots;
    emu::AddressFilter m_plt_filter;
    void set_plt_slot(GuestAddr addr, LivePlt plt);
    std::vector<GuestRange> m_freed;             // Freed init memory.
    std::vector<std::optional<PendingPlt>> m_pending; // Per CPU: inside a PLT entry.
    std::vector<GuestAddr> m_reported;           // exec-freed-init: one finding per module area.
};

} // namespace klpemu::patcher
