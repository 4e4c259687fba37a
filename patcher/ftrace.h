// The front door of klpemu's arm64 ftrace (kernel/trace/ftrace.c + arch/arm64/kernel/ftrace.c,
// reference §1, §2, §3, §9). Ftrace installs one trampoline variant into a machine, records the
// call sites of every object it is given (initialising each to `mov x9, x30; nop` before the
// code can run), and keeps ftrace ops: C++ callbacks with filters. Registering an ops turns the
// matching call sites' NOPs into BLs to the trampoline (CALL_OPS: after writing the per-site
// literal), unregistering turns them back; every write goes through TextPoke. The trampoline
// reaches the callbacks through host call 0x100; the built-in function tracer logs
// `func <-parent` lines, the function-graph tracer hijacks the return address with
// return_to_handler (host call 0x101) and logs nested entry/exit lines with durations in cycles.
//
// Where the pieces are: call sites and their state machine (ftrace_call_sites.h), the ops
// registry (ftrace_ops.h), the tracers (function_tracer.h, graph_tracer.h, tracers.h), and the
// checks, each an observer of its own that Ftrace attaches (docs/findings.md): abi-clobber
// (ftrace_abi_check.h), brk-at-callsite (ftrace_brk_check.h); bl-out-of-range when a site cannot be
// reached, fgraph-mismatch from the graph tracer, and TextPoke's cmodx-unsafe, mov-slot-rewritten,
// stale-fetch.
#pragma once

#include "emu/cpu_state.h"
#include "emu/finding.h"
#include "emu/graph_return_stack.h"
#include "emu/guest_addr.h"
#include "emu/image.h"
#include "emu/kernel_era.h"
#include "emu/machine.h"
#include "emu/observer.h"
#include "emu/result.h"
#include "patcher/alias_text_writer.h"
#include "patcher/callops_order_check.h"
#include "patcher/ftrace_abi_check.h"
#include "patcher/ftrace_brk_check.h"
#include "patcher/ftrace_call_sites.h"
#include "patcher/ftrace_direct_check.h"
#include "patcher/ftrace_filter.h"
#include "patcher/ftrace_layout.h"
#include "patcher/ftrace_ops.h"
#include "patcher/ftrace_source.h"
#include "patcher/function_tracer.h"
#include "patcher/graph_tracer.h"
#include "patcher/text_poke.h"
#include "patcher/trace_buffer.h"
#include "patcher/tracers.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace klpemu::patcher {

// The patcher's host-call numbers (range emu::hc::kPatcherFirst..kPatcherLast).
namespace hc {
inline constexpr uint16_t kFtraceOps = 0x100;     // x0 ip, x1 parent_ip, x2 ops, x3 regs
inline constexpr uint16_t kGraphReturn = 0x101;   // x0 fregs of return_to_handler -> x0 ret
inline constexpr uint16_t kPrepareReturn = 0x102; // x0 ip, x1 &parent, x2 fp (ftrace_source)
} // namespace hc

struct FtraceOptions {
    TrampolineVariant variant = TrampolineVariant::Args;
    // The kernel whose call-site state machine and entry selection run (emu/kernel_era.h);
    // the variant is chosen separately (scenarios take the era's default unless told).
    emu::KernelEra era = emu::kDefaultEra;
    // The CPU whose patching code runs the cache maintenance (the others see new words after
    // their next context synchronisation); nullopt: no CPU does.
    std::optional<int> writer_cpu = 0;
    // Model kernels before a7ed7b9d0ebb: an unreachable trampoline gets BRK #0x100 patched in.
    bool brk_on_range_error = false;
    // Check every trampoline exit against its entry (abi-clobber).
    bool check_abi = true;
    // A kernel tree's entry-ftrace.S to run in place of the bundled `variant` file, built for
    // `era` and `variant` (patcher/ftrace_source.h).
    std::optional<FtraceSourceSpec> source;
};

class Ftrace final : public emu::ExecutionObserver {
  public:
    // Loads the trampoline variant and its support code into `machine`, registers the host
    // calls and the observer. Contract: `machine` outlives the returned object.
    static Result<std::unique_ptr<Ftrace>> create(emu::Machine& machine,
                                                  const FtraceOptions& options = {});
    ~Ftrace() override;
    Ftrace(const Ftrace&) = delete;
    Ftrace& operator=(const Ftrace&) = delete;

    const TrampolineLayout& layout() const { return m_layout; }
    const emu::KernelEraInfo& era() const { return m_era; }
    // The user's entry-ftrace.S as it was built (FtraceOptions::source), or null.
    const FtraceSourceBuild* source_build() const {
        return m_source_build ? &*m_source_build : nullptr;
    }
    // The entry unwinders name: ftrace_regs_caller on the pt_regs trampolines, ftrace_caller
    // otherwise.
    GuestAddr trampoline() const { return m_trampoline; }
    // What each entry of a module's ftrace PLT branches to, by index: [FTRACE_PLT_IDX] =
    // FTRACE_ADDR (ftrace_caller) and, where call sites move to ftrace_regs_caller for SAVE_REGS
    // ops (v5.5..v6.1, NR_FTRACE_PLTS = 2), [FTRACE_REGS_PLT_IDX] = FTRACE_REGS_ADDR. Elsewhere
    // the one entry is the trampoline (the v3/v4 series' ftrace_regs_caller, or ftrace_caller).
    std::vector<GuestAddr> ftrace_plt_targets() const;

    // ftrace_module_init + ftrace_init_nop: records the object's call sites and writes
    // `mov x9, x30` into each (the object's code must not have run yet).
    Result<void> add_object(const LoadedObject& object);

    // ftrace_module_enable: turns on the object's call sites (added before) that the filters of
    // the registered ops match, as the kernel does for a module between load and its init.
    Result<void> module_enable(const LoadedObject& object);
    // ftrace_free_mem / ftrace_release_mod: forgets the call sites in `range` (freed init text,
    // an unloaded module) without writing to it.
    void remove_sites(GuestRange range);

    // register_ftrace_function: adds the ops to the registry (names resolved once against the
    // recorded call sites) and turns on the call sites it traces. Errors: the filter matches no
    // call site; FTRACE_OPS_FL_SAVE_REGS on a trampoline without pt_regs (code EINVAL); an
    // FTRACE_OPS_FL_IPMODIFY ops on a function another IPMODIFY ops already has (code EBUSY).
    Result<OpsId> register_ops(FtraceOps ops);
    // unregister_ftrace_function: turns off the sites no other ops needs and forgets the ops.
    Result<void> unregister_ops(OpsId id);
    // ftrace_set_filter on a registered ops: adds the functions `filter` names and turns their
    // sites on; returns how many call sites the names match (0: none, nothing changed).
    Result<size_t> add_ops_filter(OpsId id, const FtraceFilter& filter);
    // Removes the functions `filter` names from the ops' filter hash without touching text;
    // returns how many were removed. Follow with update_sites() or unregister_ops(): an empty
    // filter hash traces every function.
    size_t remove_ops_filter(OpsId id, const FtraceFilter& filter);
    // The ops' filter hash (function entry addresses; empty = every function).
    const FtraceHash& ops_filter_hash(OpsId id) const { return m_registry.filter_hash(id); }
    // ftrace_replace_code: brings every call site in line with the registry. After a site that
    // fails (ftrace_bug), the rest are left as they are: the kernel stops processing there.
    Result<void> update_sites();

    // ftrace_kill(), which ftrace_bug() calls through FTRACE_WARN_ON_ONCE: ftrace_disabled is
    // set for good. Every later register/unregister/filter change fails with -ENODEV (code
    // ENODEV: ftrace_startup, ftrace_shutdown, ftrace_set_hash), a module's call sites are no
    // longer recorded or enabled (ftrace_module_init/enable return early), and no call site is
    // written again. What is live stays live: sites keep calling their trampoline and the
    // registered callbacks keep running (nothing unregisters them).
    bool killed() const { return m_killed; }

    // Direct calls (DYNAMIC_FTRACE_WITH_DIRECT_CALLS; ftrace_direct.cpp). Does this kernel have
    // them: an era from 6.4 with the call-ops trampoline (arm64 selects them only with CALL_OPS)?
    bool direct_calls() const;
    // register_ftrace_direct(ops, addr): the functions `filter` names branch to the custom
    // trampoline `addr` instead of running ftrace's callbacks: straight from the call site when
    // `addr` is in BL reach and the ops is alone on the site, else through ftrace_caller, which
    // reads ops->direct_call from the site's literal (or, beside other ops, the direct_tramp
    // slot the ops leaves in ftrace_regs). Errors: no direct calls on this kernel (the message
    // names the era and why); the filter matches nothing; a function already has a direct
    // trampoline (EBUSY).
    Result<OpsId> register_direct(std::string name, const FtraceFilter& filter, GuestAddr addr);
    // modify_ftrace_direct(ops, addr): a temporary ops on the same functions sends every site
    // through ftrace_caller while ops->direct_call changes, then the sites go to `addr`.
    // Error: `id` is not a registered direct ops.
    Result<void> modify_direct(OpsId id, GuestAddr addr);
    // unregister_ftrace_direct: as unregister_ops. Error: `id` is not a direct ops.
    Result<void> unregister_direct(OpsId id);

    // Scenario actions `ftrace enable FILTER [tracer=function|graph]` / `ftrace disable FILTER`:
    // enable adds the matching functions to the built-in tracer (registering it on first use),
    // disable removes them from every built-in tracer (unregistering a tracer left empty).
    Result<void> enable(std::string_view filter, TracerKind tracer = TracerKind::Function);
    Result<void> disable(std::string_view filter);

    // One scenario action as the runner parsed it: enable (with tracer "function" or "graph") or
    // disable FILTER. Errors name the filter or the tracer.
    Result<void> apply_action(bool enable, std::string_view filter, std::string_view tracer);

    // Where a non-kernel-reachable site goes instead (module ftrace PLTs): given the site and
    // the entry it should call, return the module's ftrace PLT entry for that entry (within BL
    // reach or not), or nullopt: get_ftrace_plt.
    using CallableHook = std::function<std::optional<GuestAddr>(const PatchSite&, GuestAddr)>;
    void set_callable_hook(CallableHook hook) { m_callable_hook = std::move(hook); }

    // What happened since the previous call, in order: text writes and trace lines, for the
    // scenario transcript.
    struct Event {
        enum class Kind { Patch, Trace };
        Kind kind = Kind::Patch;
        std::string text;
        uint64_t instruction = 0;
    };
    std::vector<Event> take_events();

    // The trace buffer: function-tracer and graph-tracer lines, in execution order.
    const std::vector<std::string>& trace() const { return m_trace.lines(); }
    void clear_trace() {
        m_trace.clear();
        m_trace_taken = 0;
    }
    // Every text write so far, as transcript lines ("patch f+0x4: nop -> bl ftrace_caller").
    std::vector<std::string> patch_log() const;
    TextPoke& text_poke() { return m_poke; }

    // Kernels up to v5.19 enable the graph tracer by patching the trampoline's ftrace_graph_call
    // NOP into `b ftrace_graph_caller`, which calls prepare_ftrace_return (host call 0x102). True
    // when the machine's trampoline has them on such an era (the bundled pt_regs trampolines,
    // `regs-v3`, `regs-v4` and `regs`, or a user's entry-ftrace.S): the graph tracer then enters
    // there, not as an ops callback.
    bool graph_by_caller() const { return m_graph_call.value != 0; }
    // ftrace_enable_ftrace_graph_caller / ftrace_disable_ftrace_graph_caller: the graph tracer's
    // ops is `ops` (0: none, the site goes back to its NOP). Contract: graph_by_caller().
    Result<void> set_graph_caller(OpsId ops);

    // The graph tracer's return stack of `task` as unwinders read it (current->ret_stack); the
    // object lives as long as this Ftrace and is empty while the task has no hijacked return.
    const GraphReturnStack& graph_return_stack(int task);

    CallSiteState site_state(std::string_view function) const;
    // Every call site with its state and, while On, the BL's target (patcher/ftrace_sites.cpp).
    struct SiteView {
        PatchSite site;
        CallSiteState state = CallSiteState::Compiled;
        GuestAddr target;
    };
    std::vector<SiteView> sites() const;
    // Number of ops callbacks run (host calls 0x100 that ran at least one ops).
    uint64_t ops_calls() const { return m_ops_calls; }

    // ExecutionObserver.
    void on_instruction(const emu::InsnEvent& ev) override;
    void on_context_sync(int cpu) override;

  private:
    Ftrace(emu::Machine& machine, const FtraceOptions& options);
    Result<void> install();
    Result<void> load_bundled_trampoline();
    Result<void> load_source_trampoline(); // ftrace_source_install.cpp
    // The embedded guest file `file` as this era assembles it: behind `.set KLPEMU_RET_ABI, N`
    // (the era's return_to_handler signature: 0 up to v6.4, 1 on v6.5..v6.12, 2 from v6.13; see
    // patcher/guest/ftrace_support.S), `.set KLPEMU_GRAPH_CALLER, 0|1` (ftrace_graph_call, up to
    // v5.19), `.set KLP_DIRECT_CALLS, 0|1` (6.4+ CALL_OPS) and a cpp line marker that keeps its
    // line numbers, with its `// klpemu-splice: NAME` lines replaced by NAME.
    std::string era_guest_source(std::string_view file) const;
    // The era enables the graph tracer by patching ftrace_graph_call (up to v5.19).
    bool graph_caller_era() const;
    Result<void> update_site(CallSite& site);
    Result<void> write_site_literal(CallSite& site, uint64_t value);
    Result<void> update_tracer_call();
    Result<GuestAddr> callable_addr(CallSite& site, GuestAddr entry);
    // ftrace_modify_call failing on a far module's site before v5.19 (finding `ftrace-bug`).
    void report_modify_call_bug(const CallSite& site, GuestAddr entry);
    void store_record_direct(OpsId id);
    GuestAddr entry_for(const std::vector<OpsId>& ops) const;
    Result<void> set_mov_slot(CallSite& site, bool mov);
    PokeContext poke_context() const;
    Result<void> poke(const TextPatch& patch);
    void flush_poke_findings();
    void install_guest_writes(TextTarget& text); // ftrace_guest_writes.cpp

    void on_ops_call(emu::HostCallContext& ctx);
    void on_prepare_return(emu::HostCallContext& ctx); // ftrace_source_install.cpp

    class MachineText;

    emu::Machine& m_machine;
    FtraceOptions m_options;
    const TrampolineLayout& m_layout;
    const emu::KernelEraInfo& m_era;
    std::unique_ptr<MachineText> m_text;
    TextPoke m_poke;

    GuestAddr m_trampoline, m_caller, m_trampoline_ret, m_ftrace_call, m_ftrace_stub, m_list_func;
    GuestAddr m_nop_ops, m_list_ops, m_pool, m_pool_end;
    int64_t m_ops_record_size = 0; // Stride of the guest ftrace_ops records.
    std::optional<FtraceSourceBuild> m_source_build;
    GuestAddr m_return_to_handler, m_return_to_handler_ret;
    bool m_tracer_call_live = false; // ftrace_call is `bl ftrace_ops_list_func`.
    bool m_killed = false;           // ftrace_disabled, after ftrace_bug (killed()).
    // The -ENODEV every operation returns once ftrace is killed, naming `what` was asked.
    Error killed_error(std::string_view what) const;
    // ftrace_graph_call and ftrace_graph_caller of the trampoline on a GraphCaller era (else 0),
    // and the graph tracer's ops while ftrace_graph_call branches (else 0).
    GuestAddr m_graph_call, m_graph_caller;
    OpsId m_graph_ops = 0;
    // A user's 6.4+ CALL_OPS file: its `br x17` to a direct trampoline (else 0).
    GuestAddr m_source_direct_exit;

    FtraceCallSites m_sites;
    FtraceOpsRegistry m_registry;
    std::map<OpsId, GuestAddr> m_records; // Each ops' guest ftrace_ops record (CALL_OPS).
    std::vector<GuestAddr> m_free_records;
    CallableHook m_callable_hook;

    TraceBuffer m_trace;
    size_t m_trace_taken = 0;
    size_t m_log_taken = 0;
    uint64_t m_ops_calls = 0;
    std::unique_ptr<FunctionTracer> m_function_tracer;
    std::unique_ptr<GraphTracer> m_graph_tracer;
    std::unique_ptr<Tracers> m_tracers;
    // The checks, each an observer of its own, attached after Ftrace in this order.
    std::unique_ptr<FtraceAbiCheck> m_abi_check; // Null unless FtraceOptions::check_abi.
    std::unique_ptr<FtraceBrkCheck> m_brk_check;
    std::unique_ptr<FtraceDirectCheck> m_direct_check; // Null unless check_abi.
    // Guest stores through FIX_TEXT_POKE0 go through m_poke; CALL_OPS order is checked on it.
    std::unique_ptr<AliasTextWriter> m_alias_writer;
    std::unique_ptr<CallOpsOrderCheck> m_callops_order;
};

} // namespace klpemu::patcher
