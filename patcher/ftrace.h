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
// Checks (docs/findings.md): abi-clobber (x0-x8, x18-x29, SP, return address), store-below-sp,
// brk-at-callsite, bl-out-of-range, fgraph-mismatch, plus TextPoke's cmodx-unsafe,
// mov-slot-rewritten, stale-fetch.
#pragma once

#include "emu/cpu_state.h"
#include "emu/finding.h"
#include "emu/graph_return_stack.h"
#include "emu/guest_addr.h"
#include "emu/image.h"
#include "emu/machine.h"
#include "emu/observer.h"
#include "emu/result.h"
#include "patcher/ftrace_filter.h"
#include "patcher/ftrace_layout.h"
#include "patcher/text_poke.h"

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
inline constexpr uint16_t kFtraceOps = 0x100;   // x0 ip, x1 parent_ip, x2 ops, x3 regs
inline constexpr uint16_t kGraphReturn = 0x101; // x0 fregs of return_to_handler -> x0 ret
} // namespace hc

struct FtraceOptions {
    TrampolineVariant variant = TrampolineVariant::Args;
    // The CPU whose patching code runs the cache maintenance (the others see new words after
    // their next context synchronisation); nullopt: no CPU does.
    std::optional<int> writer_cpu = 0;
    // Model kernels before a7ed7b9d0ebb: an unreachable trampoline gets BRK #0x100 patched in.
    bool brk_on_range_error = false;
    // Check every trampoline exit against its entry (abi-clobber).
    bool check_abi = true;
};

// The register block of one traced call, as the ops callbacks see it (ftrace_regs / pt_regs).
class FtraceRegs {
  public:
    FtraceRegs(emu::GuestMemory& memory, GuestAddr base, const TrampolineLayout& layout)
        : m_memory(memory), m_base(base), m_layout(layout) {}

    GuestAddr base() const { return m_base; }
    // Argument register n (x0..x8); 0 for n >= 9 as ftrace_regs_get_argument.
    uint64_t arg(int n) const;
    uint64_t fp() const { return load(m_layout.fp); }
    uint64_t sp() const { return load(m_layout.sp); }
    GuestAddr lr() const { return GuestAddr(load(m_layout.lr)); }
    GuestAddr pc() const { return GuestAddr(load(m_layout.pc)); }
    // Where the traced function returns (the graph tracer rewrites this).
    void set_lr(GuestAddr a);
    // Where the trampoline continues (livepatch: the new function).
    void set_pc(GuestAddr a);
    bool lr_changed() const { return m_lr_changed; }
    bool pc_changed() const { return m_pc_changed; }

  private:
    uint64_t load(uint32_t off) const { return m_memory.load<uint64_t>(m_base + int64_t(off)); }
    emu::GuestMemory& m_memory;
    GuestAddr m_base;
    const TrampolineLayout& m_layout;
    bool m_lr_changed = false;
    bool m_pc_changed = false;
};

// One call of an ops callback (the kernel's ftrace_func_t arguments plus where it runs).
struct FtraceCall {
    emu::HostCallContext& host;
    GuestAddr ip;        // rec->ip
    GuestAddr parent_ip; // The traced function's return address.
    std::string_view function;
    FtraceRegs& regs;
};

using FtraceFunc = std::function<void(FtraceCall&)>;

struct FtraceOps {
    std::string name;
    FtraceFilter filter; // Resolved to the matching call sites at registration.
    FtraceFunc func;
    // livepatch (ftrace_set_filter_ip): the one call site of the function at this address,
    // instead of `filter`; a same-named function elsewhere is never matched.
    std::optional<GuestAddr> function_addr;
    // FTRACE_OPS_FL_IPMODIFY: at most one such ops per call site; a second is refused (-EBUSY).
    bool ipmodify = false;
};

using OpsId = int;

enum class TracerKind { Function, Graph };

// "function" | "graph" (also "function_graph").
Result<TracerKind> parse_tracer_kind(std::string_view name);

// The state of one call site (reference §1 "Callsite states").
enum class CallSiteState { Compiled, Off, On, Broken };

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
    GuestAddr trampoline() const { return m_trampoline; }

    // ftrace_module_init + ftrace_init_nop: records the object's call sites and writes
    // `mov x9, x30` into each (the object's code must not have run yet).
    Result<void> add_object(const LoadedObject& object);

    // ftrace_module_enable: turns on the object's call sites (added before) that the filters of
    // the registered ops match, as the kernel does for a module between load and its init.
    Result<void> module_enable(const LoadedObject& object);
    // ftrace_free_mem / ftrace_release_mod: forgets the call sites in `range` (freed init text,
    // an unloaded module) without writing to it.
    void remove_sites(GuestRange range);

    // Registers an ops and turns on the call sites its filter matches; error if it matches none.
    Result<OpsId> register_ops(FtraceOps ops);
    // Turns off the sites no other ops needs and forgets the ops.
    Result<void> unregister_ops(OpsId id);

    // Scenario actions `ftrace enable FILTER [tracer=function|graph]` / `ftrace disable FILTER`:
    // enable adds the matching functions to the built-in tracer (registering it on first use),
    // disable removes them from every built-in tracer (unregistering a tracer left empty).
    Result<void> enable(std::string_view filter, TracerKind tracer = TracerKind::Function);
    Result<void> disable(std::string_view filter);

    // One scenario action as the runner parsed it: enable (with tracer "function" or "graph") or
    // disable FILTER. Errors name the filter or the tracer.
    Result<void> apply_action(bool enable, std::string_view filter, std::string_view tracer);

    // Where a non-kernel-reachable site goes instead (module ftrace PLTs): given the site,
    // return a callable address within BL reach, or nullopt (ftrace_find_callable_addr).
    using CallableHook = std::function<std::optional<GuestAddr>(const PatchSite&)>;
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
    const std::vector<std::string>& trace() const { return m_trace; }
    void clear_trace() {
        m_trace.clear();
        m_trace_instructions.clear();
        m_trace_taken = 0;
    }
    // Every text write so far, as transcript lines ("patch f+0x4: nop -> bl ftrace_caller").
    std::vector<std::string> patch_log() const;
    TextPoke& text_poke() { return m_poke; }

    // The graph tracer's return stack of `task` as unwinders read it (current->ret_stack); the
    // object lives as long as this Ftrace and is empty while the task has no hijacked return.
    const GraphReturnStack& graph_return_stack(int task);

    CallSiteState site_state(std::string_view function) const;
    // Number of ops callbacks run (host calls 0x100 that ran at least one ops).
    uint64_t ops_calls() const { return m_ops_calls; }

    // ExecutionObserver.
    void on_instruction(const emu::InsnEvent& ev) override;
    void on_memory_write(int cpu, GuestAddr pc, GuestAddr addr, int size) override;
    void on_exception_entry(int cpu, int task, emu::ExceptionKind kind, GuestAddr pc) override;
    void on_exception_return(int cpu, int task, emu::ExceptionKind kind, GuestAddr pc) override;

  private:
    struct CallSite {
        PatchSite site;
        CallSiteState state = CallSiteState::Compiled;
        GuestAddr target;                // The BL's target while On.
        std::optional<uint64_t> literal; // CALL_OPS: the ops the literal holds.
    };
    struct OpsEntry {
        FtraceOps ops;
        std::set<std::string> functions; // The resolved filter hash.
        GuestAddr record;                // Its guest ftrace_ops record (CALL_OPS single-ops).
        bool builtin = false;
        TracerKind tracer = TracerKind::Function;
    };
    struct GraphFrame {
        std::string function;
        GuestAddr ret;
        uint64_t fp = 0;
        uint64_t start_cycles = 0;
    };
    // One task's ret_stack, kept beside m_graph for the unwinders (GraphReturnStack).
    class TaskGraphStack final : public GraphReturnStack {
      public:
        explicit TaskGraphStack(GuestAddr handler) : m_handler(handler) {}
        std::span<const GraphReturnEntry> entries() const override { return stack; }
        GuestAddr return_to_handler() const override { return m_handler; }
        std::vector<GraphReturnEntry> stack; // Oldest first, as entries() gives them.

      private:
        GuestAddr m_handler;
    };
    struct TrampolineFrame {
        emu::CpuState entry;
        std::optional<GuestAddr> new_lr;
        std::optional<GuestAddr> new_pc;
    };

    Ftrace(emu::Machine& machine, const FtraceOptions& options);
    Result<void> install();
    Result<void> update_site(CallSite& site);
    Result<void> write_site_literal(CallSite& site, uint64_t value);
    Result<void> update_tracer_call();
    Result<GuestAddr> callable_addr(CallSite& site);
    std::vector<OpsId> ops_for(const CallSite& site) const;
    static bool covers(const OpsEntry& entry, const CallSite& site);
    PokeContext poke_context() const;
    Result<void> poke(const TextPatch& patch);
    void flush_poke_findings();
    void add_finding(std::string kind, Severity severity, GuestAddr pc, std::optional<int> cpu,
                     int task, std::string message);

    void add_trace(std::string line);
    void on_ops_call(emu::HostCallContext& ctx);
    void on_graph_return(emu::HostCallContext& ctx);
    TaskGraphStack& graph_stack_of(int task);
    void function_tracer(FtraceCall& call);
    void graph_tracer(FtraceCall& call);
    void check_trampoline_exit(const emu::InsnEvent& ev);
    void check_graph_exit(const emu::InsnEvent& ev);

    class MachineText;

    emu::Machine& m_machine;
    FtraceOptions m_options;
    const TrampolineLayout& m_layout;
    std::unique_ptr<MachineText> m_text;
    TextPoke m_poke;

    GuestAddr m_trampoline, m_trampoline_ret, m_ftrace_call, m_ftrace_stub, m_list_func;
    GuestAddr m_nop_ops, m_list_ops, m_pool, m_pool_end;
    GuestAddr m_return_to_handler, m_return_to_handler_ret;
    bool m_tracer_call_live = false; // ftrace_call is `bl ftrace_ops_list_func`.

    std::vector<CallSite> m_sites;
    std::unordered_map<GuestAddr, size_t> m_site_by_ip;
    std::unordered_map<GuestAddr, size_t> m_site_by_word; // first_nop and rec_ip
    std::map<OpsId, OpsEntry> m_ops;
    OpsId m_next_ops = 1;
    std::map<TracerKind, OpsId> m_builtin;
    std::vector<GuestAddr> m_free_records;
    CallableHook m_callable_hook;

    std::vector<std::string> m_trace;
    std::vector<uint64_t> m_trace_instructions; // Clock of each trace line.
    size_t m_trace_taken = 0;
    size_t m_log_taken = 0;
    uint64_t m_ops_calls = 0;
    std::unordered_map<int, std::vector<GraphFrame>> m_graph;             // Per task.
    std::unordered_map<int, std::unique_ptr<TaskGraphStack>> m_graph_stacks; // Per task.
    std::unordered_map<int, std::vector<TrampolineFrame>> m_frames;       // Per task.
    std::unordered_map<int, std::vector<emu::CpuState>> m_graph_entries;  // Per task.
    std::unordered_map<int, std::pair<GuestAddr, uint64_t>> m_last_probe; // Per task.
    std::set<GuestAddr> m_reported; // store-below-sp: one finding per PC.
    std::set<GuestAddr> m_brk_reported;
};

} // namespace klpemu::patcher
