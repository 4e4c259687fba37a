// ftrace ops: who wants to run at a traced function's entry, and for which functions
// (struct ftrace_ops, include/linux/ftrace.h). An ops carries a callback, flags, and the
// kernel's ftrace_func_hash: a filter hash and a notrace hash of function entry addresses.
// Users who name functions (set_ftrace_filter, the scenario's `ftrace enable leaf`) get their
// names resolved once, against the call sites recorded at that moment, into addresses; from then
// on only addresses count, so a same-named function in another object (a livepatch module's
// replacement `leaf`) is never matched. Clients that already hold an address (livepatch's
// klp_patch_func: ftrace_set_filter_ip) put it into the hash directly.
//
// The registry (FtraceOpsRegistry) is the kernel's ftrace_ops_list plus the hash bookkeeping of
// ftrace_hash_move / ftrace_hash_ipmodify_update: which ops trace a call site, and that no two
// FTRACE_OPS_FL_IPMODIFY ops claim the same function (the second fails with -EBUSY, as a second
// livepatch on one function without the klp_ops sharing would). It writes no text: Ftrace turns
// registry changes into call-site updates.
#pragma once

#include "emu/guest_addr.h"
#include "emu/image.h"
#include "emu/machine.h"
#include "emu/result.h"
#include "emu/symbol_table.h"
#include "patcher/ftrace_filter.h"
#include "patcher/ftrace_layout.h"

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::patcher {

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
    // ftrace_regs_get_instruction_pointer: where the trampoline resumes (rec->ip + 4 unless an
    // ops changed it).
    GuestAddr pc() const { return GuestAddr(load(m_layout.pc)); }
    // Where the traced function returns (the graph tracer rewrites this).
    void set_lr(GuestAddr a);
    // ftrace_regs_set_instruction_pointer: where the trampoline resumes instead of the traced
    // function's body (livepatch: the replacement function). Only FTRACE_OPS_FL_IPMODIFY ops
    // may call it; the ABI check verifies the trampoline honoured it.
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

// ftrace_func_t. A callback may change `call.regs` (set_lr, set_pc) to redirect the traced call.
using FtraceFunc = std::function<void(FtraceCall&)>;

// FTRACE_OPS_FL_* bits klpemu models.
enum class FtraceOpsFlag : uint32_t {
    // The callback needs a full pt_regs: only the WITH_REGS trampolines (regs, regs-v3,
    // regs-v4) provide one; registering on an args/call-ops kernel fails with -EINVAL.
    SaveRegs = 1u << 0,
    // The callback changes the resume PC; at most one such ops per function (-EBUSY).
    IpModify = 1u << 1,
};

struct FtraceOpsFlags {
    uint32_t bits = 0;
    bool has(FtraceOpsFlag f) const { return (bits & uint32_t(f)) != 0; }
    FtraceOpsFlags& set(FtraceOpsFlag f) {
        bits |= uint32_t(f);
        return *this;
    }
};

// A set of function entry addresses (struct ftrace_hash).
using FtraceHash = std::set<GuestAddr>;

struct FtraceOps {
    std::string name;
    FtraceOpsFlags flags;
    // Function names or globs (set_ftrace_filter / set_ftrace_notrace). Resolved once into the
    // hashes at registration; the filter names are also kept, like the kernel's cached `:mod:`
    // filters, and resolved against each object whose call sites are added later.
    FtraceFilter filter;
    FtraceFilter notrace;
    // Entry addresses to trace / not to trace (ftrace_set_filter_ip, ftrace_set_notrace_ip).
    // An ops with neither filter names nor filter_ips traces every function, also those of
    // objects added later; notrace is subtracted.
    FtraceHash filter_ips;
    FtraceHash notrace_ips;
    FtraceFunc func;
    // ops->direct_call (DYNAMIC_FTRACE_WITH_DIRECT_CALLS): the custom trampoline the traced
    // functions branch to; zero for an ordinary ops. Set by Ftrace::register_direct.
    GuestAddr direct_call;
};

using OpsId = int;

// Is `name` (one word of a filter) a glob rather than a function name?
bool is_glob(std::string_view name);

// The entry addresses among `sites` that `filter` names: a glob matches by name in every object;
// a plain name means the global function of that name when there is one (never a same-named
// static elsewhere), else every function of that name. Empty filter: nothing.
FtraceHash resolve_filter(const FtraceFilter& filter, std::span<const PatchSite> sites,
                          const SymbolTable& symbols);

class FtraceOpsRegistry {
  public:
    explicit FtraceOpsRegistry(const SymbolTable& symbols) : m_symbols(symbols) {}

    // register_ftrace_function's bookkeeping: resolves the ops' names against `sites` and adds
    // it. Errors: the filter matches none of `sites`; an IPMODIFY ops overlaps another one on a
    // function (Error::code EBUSY).
    Result<OpsId> add(FtraceOps ops, std::span<const PatchSite> sites);
    // unregister_ftrace_function's bookkeeping. Error if `id` is not registered.
    Result<void> remove(OpsId id);

    // ftrace_set_filter (reset = 0): adds the functions `filter` names among `sites` to the ops'
    // filter hash and keeps the names for objects added later. Returns how many of `sites` the
    // names match (0: nothing traceable). Error: IPMODIFY overlap (EBUSY).
    Result<size_t> add_filter(OpsId id, const FtraceFilter& filter,
                              std::span<const PatchSite> sites);
    // Removes the functions `filter` names from the ops' filter hash; returns how many were in
    // it. The hash may become empty: the ops then traces nothing (callers unregister it).
    size_t remove_filter(OpsId id, const FtraceFilter& filter, std::span<const PatchSite> sites);

    // ftrace_module_enable's filter side: resolves every ops' kept names against the new
    // object's call sites.
    void object_added(std::span<const PatchSite> sites);
    // clear_func_from_hashes / clear_mod_from_hashes: freed text (init memory, an unloaded
    // module) leaves every hash.
    void text_freed(GuestRange range);

    // Does ops `id` trace the function of `site` (ftrace_ops_test)?
    bool traces(OpsId id, const PatchSite& site) const;
    // Every registered ops tracing `site`, in registration order.
    std::vector<OpsId> ops_for(const PatchSite& site) const;
    // The registered ops, or nullptr.
    const FtraceOps* find(OpsId id) const;
    // modify_ftrace_direct's `WRITE_ONCE(ops->direct_call, addr)`. Contract: `id` is registered.
    void set_direct_call(OpsId id, GuestAddr addr);
    // The direct ops other than `self` whose filter hash holds `function`, or 0
    // (ftrace_find_rec_direct over direct_functions).
    OpsId direct_ops_for(GuestAddr function, OpsId self = 0) const;
    // Its filter hash (resolved names plus filter_ips).
    const FtraceHash& filter_hash(OpsId id) const;
    bool empty() const { return m_ops.empty(); }

  private:
    struct Entry {
        FtraceOps ops;
        // False: registered without any filter, traces every function (also later ones). True:
        // traces exactly `filter`, even once it empties (the kernel would fall back to every
        // function; klpemu's clients unregister instead).
        bool filtered = false;
        FtraceHash filter;  // Resolved names + filter_ips.
        FtraceHash notrace; // Resolved names + notrace_ips.
    };
    static bool traces(const Entry& e, GuestAddr function);
    // Error naming the function and the other ops if `probe` (IPMODIFY) would share a function
    // of `sites` with another IPMODIFY ops than `self`.
    Result<void> check_ipmodify(OpsId self, const Entry& probe,
                                std::span<const PatchSite> sites) const;

    const SymbolTable& m_symbols;
    std::map<OpsId, Entry> m_ops;
    OpsId m_next = 1;
};

} // namespace klpemu::patcher
