// The recorded call sites and their state machine (see ftrace_call_sites.h): ftrace_module_init
// + ftrace_init_nop when an object arrives, ftrace_module_enable, ftrace_release_mod, and the
// per-site transitions of ftrace_replace_code (ftrace_make_call, ftrace_modify_call,
// ftrace_make_nop; with CALL_OPS the literal is written before the BL changes), built by
// ftrace_callsite.h and applied through TextPoke.
#include "patcher/ftrace_call_sites.h"

#include "emu/insn_encoding.h"
#include "patcher/ftrace.h"
#include "patcher/ftrace_callsite.h"

#include <algorithm>
#include <set>

namespace klpemu::patcher {

namespace {

// Two NOPs, as the compiler leaves the CALL_OPS literal before ftrace_init_nop sets it.
constexpr uint64_t kLiteralNops = 0xd503201fd503201fULL;

} // namespace

void FtraceCallSites::index(size_t i) {
    m_by_ip.emplace(m_sites[i].site.rec_ip, i);
    m_by_word.emplace(m_sites[i].site.rec_ip, i);
    m_by_word.emplace(m_sites[i].site.first_nop, i);
}

void FtraceCallSites::add(CallSite site) {
    m_sites.push_back(std::move(site));
    index(m_sites.size() - 1);
}

void FtraceCallSites::remove(GuestRange range) {
    std::erase_if(m_sites, [&](const CallSite& s) { return range.contains(s.site.rec_ip); });
    m_by_ip.clear();
    m_by_word.clear();
    for (size_t i = 0; i < m_sites.size(); ++i) {
        index(i);
    }
}

const CallSite* FtraceCallSites::find(GuestAddr ip) const {
    auto it = m_by_ip.find(ip);
    return it == m_by_ip.end() ? nullptr : &m_sites[it->second];
}

CallSiteState FtraceCallSites::state_of(std::string_view function) const {
    for (const CallSite& site : m_sites) {
        if (site.site.function == function) {
            return site.state;
        }
    }
    return CallSiteState::Compiled;
}

std::vector<PatchSite> FtraceCallSites::patch_sites() const {
    std::vector<PatchSite> out;
    out.reserve(m_sites.size());
    for (const CallSite& site : m_sites) {
        out.push_back(site.site);
    }
    return out;
}

// ---- Ftrace's call-site side -------------------------------------------------------------------

Result<void> Ftrace::add_object(const LoadedObject& object) {
    if (m_killed) {
        return {}; // ftrace_module_init: `if (ftrace_disabled) return;` The NOPs stay NOPs.
    }
    for (const PatchSite& ps : object.patch_sites) {
        if (m_sites.contains(ps.rec_ip)) {
            continue;
        }
        if (m_layout.call_ops && !ps.ops_literal) {
            return make_error("ftrace: {}: {} has no CALL_OPS literal (build it with "
                              "-fpatchable-function-entry=4,2 for the call-ops trampoline)",
                              object.name, ps.function);
        }
        m_poke.watch_mov_slot(ps.first_nop);
        m_poke.watch(ps.rec_ip);
        CallSite site{ps, CallSiteState::Off, {}, std::nullopt};
        // ftrace_init_nop: with CALL_OPS the literal is set to ftrace_nop_ops first.
        if (m_layout.call_ops) {
            const Symbol owner{ps.function, ps.function_addr, 0, SymbolKind::Function, false, {}};
            KLP_TRY(m_poke.write_literal(*ps.ops_literal, kLiteralNops, m_nop_ops.value, &owner));
            site.literal = m_nop_ops.value;
        }
        if (m_era.callsite_writes == emu::CallSiteWrites::MovAtEnable) {
            // The posted v3/v4 series left both NOPs until ftrace_make_call.
            m_sites.add(std::move(site));
            continue;
        }
        PokeContext init = poke_context();
        init.text_not_live = true;
        auto r = m_poke.apply(init_nop_patch(ps), init);
        flush_poke_findings();
        if (!r.ok()) {
            return make_error("ftrace: ftrace_init_nop: {}", r.error().message);
        }
        m_sites.add(std::move(site));
    }
    return {};
}

Result<void> Ftrace::module_enable(const LoadedObject& object) {
    if (m_killed) {
        return {}; // ftrace_module_enable: `if (ftrace_disabled) goto out_unlock;`
    }
    std::set<GuestAddr> own;
    for (const PatchSite& ps : object.patch_sites) {
        own.insert(ps.rec_ip);
    }
    m_registry.object_added(object.patch_sites);
    for (CallSite& site : m_sites.all()) {
        if (own.contains(site.site.rec_ip)) {
            KLP_TRY(update_site(site));
        }
    }
    return {};
}

void Ftrace::remove_sites(GuestRange range) {
    m_registry.text_freed(range);
    m_sites.remove(range);
}

GuestAddr Ftrace::entry_for(const std::vector<OpsId>& ops) const {
    // ftrace_get_addr_new: a direct ops alone on the site gets its own trampoline.
    if (ops.size() == 1) {
        const FtraceOps* o = m_registry.find(ops[0]);
        if (o != nullptr && o->direct_call.value != 0) {
            return o->direct_call;
        }
    }
    if (m_caller == m_trampoline) {
        return m_trampoline;
    }
    const bool save_regs = std::any_of(ops.begin(), ops.end(), [&](OpsId id) {
        const FtraceOps* o = m_registry.find(id);
        return o != nullptr && o->flags.has(FtraceOpsFlag::SaveRegs);
    });
    return save_regs ? m_trampoline : m_caller;
}

// v3/v4 (CallSiteWrites::MovAtEnable): ftrace_make_call wrote `mov x9, lr` into the first NOP of
// a live site and ftrace_make_nop put the NOP back; TextPoke judges those writes like any other.
Result<void> Ftrace::set_mov_slot(CallSite& site, bool mov) {
    if (m_era.callsite_writes != emu::CallSiteWrites::MovAtEnable) {
        return {};
    }
    const TextPatch init = init_nop_patch(site.site);
    return poke(mov ? init : TextPatch{init.pc, init.new_word, init.expected_old, init.purpose});
}

std::vector<GuestAddr> Ftrace::ftrace_plt_targets() const {
    if (m_caller != m_trampoline) {
        return {m_caller, m_trampoline};
    }
    return {m_trampoline};
}

Result<GuestAddr> Ftrace::callable_addr(CallSite& site, GuestAddr entry) {
    // ftrace_find_callable_addr (6.4+): a direct trampoline out of reach is reached through
    // ftrace_caller, which knows it from ops->direct_call.
    if (entry != m_trampoline && entry != m_caller &&
        !a64::reachable_by_bl(site.site.rec_ip, entry)) {
        entry = m_trampoline;
    }
    if (a64::reachable_by_bl(site.site.rec_ip, entry)) {
        return entry;
    }
    if (m_callable_hook) {
        if (auto plt = m_callable_hook(site.site, entry)) {
            if (a64::reachable_by_bl(site.site.rec_ip, *plt)) {
                return *plt;
            }
        }
    }
    return make_error("ftrace: {}: {} is {:+#x} bytes from {} and there is no ftrace PLT in "
                      "reach",
                      m_machine.symbolize(site.site.rec_ip).str(), m_layout.entry,
                      m_trampoline - site.site.rec_ip, site.site.function);
}

// Before v5.19 ftrace_modify_call built the old and the new BL with
// aarch64_insn_gen_branch_imm against the entries themselves. For a site in a far module both
// are out of range (AARCH64_BREAK_FAULT), so the validation read `bl <ftrace PLT>` where it
// expected the BRK and failed with -EINVAL: ftrace_bug() and ftrace_kill().
void Ftrace::report_modify_call_bug(const CallSite& site, GuestAddr entry) {
    const GuestAddr from = site.target == m_caller || site.target == m_trampoline
                               ? site.target
                               : (entry == m_caller ? m_trampoline : m_caller);
    m_machine.report(
        "ftrace-bug", Severity::Error, site.site.rec_ip, m_options.writer_cpu, -1,
        fmt::format("ftrace failed to modify {}: kernel {} moves the call site from {} to {} with "
                    "ftrace_modify_call, which builds both BLs directly to the entries; a far "
                    "module's site reaches them only through its ftrace PLT, so the expected old "
                    "word is a BRK (out of BL range), the site holds `bl {}`, and validation "
                    "fails with -EINVAL (ftrace_bug, then ftrace_kill disables ftrace: later "
                    "ftrace operations fail with -ENODEV). The site keeps calling {}; v5.19 goes "
                    "through the PLTs (ftrace_find_callable_addr)",
                    m_machine.symbolize(site.site.rec_ip).str(), m_era.name,
                    m_machine.symbolize(from).str(), m_machine.symbolize(entry).str(),
                    m_machine.symbolize(site.target).str(), m_machine.symbolize(from).str()));
    m_killed = true; // FTRACE_WARN_ON_ONCE(1) in ftrace_bug: ftrace_kill().
}

Result<void> Ftrace::write_site_literal(CallSite& site, uint64_t value) {
    const Symbol owner{
        site.site.function, site.site.function_addr, 0, SymbolKind::Function, false, {}};
    KLP_TRY(m_poke.write_literal(*site.site.ops_literal, *site.literal, value, &owner));
    site.literal = value;
    return {};
}

Result<void> Ftrace::update_site(CallSite& site) {
    if (site.state == CallSiteState::Broken || site.state == CallSiteState::Compiled) {
        return {};
    }
    const std::vector<OpsId> ops = m_registry.ops_for(site.site);
    if (ops.empty()) {
        if (site.state != CallSiteState::On) {
            return {};
        }
        // ftrace_make_nop: the literal goes back to nop_ops first, then the BL to NOP.
        if (m_layout.call_ops) {
            KLP_TRY(write_site_literal(site, m_nop_ops.value));
        }
        KLP_TRY_ASSIGN(nop, make_nop_patch(site.site, site.target));
        KLP_TRY(poke(nop));
        KLP_TRY(set_mov_slot(site, false));
        site.state = CallSiteState::Off;
        return {};
    }
    const GuestAddr entry = entry_for(ops);
    const uint64_t want_literal = ops.size() == 1 ? m_records.at(ops[0]).value : m_list_ops.value;
    if (site.state == CallSiteState::On) {
        // ftrace_modify_call with the same target: only the literal changes.
        if (m_layout.call_ops && site.literal != want_literal) {
            KLP_TRY(write_site_literal(site, want_literal));
        }
        // ftrace_modify_call between ftrace_caller and ftrace_regs_caller (v5.5..v6.1).
        if (site.target != entry && a64::reachable_by_bl(site.site.rec_ip, site.target)) {
            if (auto to = callable_addr(site, entry); to.ok() && *to != site.target) {
                const bool through_plt =
                    *to != entry || (site.target != m_caller && site.target != m_trampoline);
                if (through_plt && !m_era.has(emu::EraFeature::CallablePlts)) {
                    report_modify_call_bug(site, entry);
                    return {};
                }
                KLP_TRY_ASSIGN(patch, modify_call_patch(site.site, site.target, *to));
                KLP_TRY(poke(patch));
                site.target = *to;
            }
        }
        return {};
    }
    auto target = callable_addr(site, entry);
    if (!target.ok()) {
        m_machine.report("bl-out-of-range", Severity::Error, site.site.rec_ip, m_options.writer_cpu,
                         -1, target.error().message);
        if (!m_options.brk_on_range_error) {
            return target.error();
        }
        // What the kernel did before a7ed7b9d0ebb: the generator's BRK went into the site.
        KLP_TRY(poke(break_fault_patch(site.site)));
        site.state = CallSiteState::Broken;
        return {};
    }
    // ftrace_make_call: the literal first, then NOP -> BL.
    if (m_layout.call_ops) {
        KLP_TRY(write_site_literal(site, want_literal));
    }
    KLP_TRY(set_mov_slot(site, true));
    KLP_TRY_ASSIGN(patch, make_call_patch(site.site, *target));
    KLP_TRY(poke(patch));
    site.state = CallSiteState::On;
    site.target = *target;
    return {};
}

Result<void> Ftrace::update_tracer_call() {
    if (m_layout.call_ops) {
        return {};
    }
    // ftrace_update_ftrace_func: ftrace_call is `bl ftrace_stub` while nothing is registered.
    const bool want = !m_registry.empty();
    if (want == m_tracer_call_live) {
        return {};
    }
    auto stub = a64::bl(m_ftrace_call, m_ftrace_stub);
    auto list = a64::bl(m_ftrace_call, m_list_func);
    KLP_CHECK(stub.ok() && list.ok(), "ftrace_call cannot reach its own support code");
    const TextPatch patch = want ? TextPatch{m_ftrace_call, *stub, *list, PatchPurpose::TracerCall}
                                 : TextPatch{m_ftrace_call, *list, *stub, PatchPurpose::TracerCall};
    KLP_TRY(poke(patch));
    m_tracer_call_live = want;
    return {};
}

Result<void> Ftrace::update_sites() {
    for (CallSite& site : m_sites.all()) {
        if (m_killed) {
            break; // ftrace_replace_code: after ftrace_bug, "Stop processing".
        }
        KLP_TRY(update_site(site));
    }
    return {};
}

CallSiteState Ftrace::site_state(std::string_view function) const {
    return m_sites.state_of(function);
}

} // namespace klpemu::patcher
