// ftrace direct calls (DYNAMIC_FTRACE_WITH_DIRECT_CALLS; arm64 from 6.4, 2aa6ac03516d, Florent
// Revest and Mark Rutland): register_ftrace_direct, modify_ftrace_direct and
// unregister_ftrace_direct (kernel/trace/ftrace.c) on top of the CALL_OPS machinery. A direct ops
// is an ftrace ops whose `direct_call` names a custom trampoline. Where it alone traces a
// function, ftrace_make_call aims the call site at that trampoline; ftrace_find_callable_addr
// turns a target out of BL reach into ftrace_caller, which reads ops->direct_call from the
// site's literal and branches there through x17 (ftrace_call_ops.S). This is mainline's answer
// to Mark Rutland's Oct 2019 concern (seeds/004): kernel call sites branching into a far patch
// module would need a PLT per target function; with the ops literal, one common trampoline
// reaches any target. Beside other ops on the function, call_direct_funcs (here: Ftrace's host
// call) leaves the target in ftrace_regs.direct_tramp and ftrace_caller's late exit takes it.
#include "patcher/ftrace.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>

namespace klpemu::patcher {

namespace {

// struct ftrace_ops record { func, host id, direct_call } (ftrace_support.S).
constexpr int64_t kOpsRecordDirectCall = 16;

} // namespace

bool Ftrace::direct_calls() const {
    return m_era.has(emu::EraFeature::DirectCalls) && m_layout.call_ops;
}

void Ftrace::store_record_direct(OpsId id) {
    const FtraceOps* ops = m_registry.find(id);
    const auto record = m_records.find(id);
    if (ops == nullptr || record == m_records.end()) {
        return;
    }
    m_machine.memory().store<uint64_t>(record->second + kOpsRecordDirectCall,
                                       ops->direct_call.value);
}

Result<OpsId> Ftrace::register_direct(std::string name, const FtraceFilter& filter,
                                      GuestAddr addr) {
    if (!direct_calls()) {
        if (m_era.has(emu::EraFeature::DirectCalls)) {
            return make_error("ftrace: register_ftrace_direct: kernel {} has "
                              "DYNAMIC_FTRACE_WITH_DIRECT_CALLS only in CALL_OPS builds (arm64 "
                              "selects it with DYNAMIC_FTRACE_WITH_CALL_OPS), and this build's "
                              "trampoline is '{}': use ftrace = \"call-ops\"",
                              m_era.name, m_layout.name);
        }
        return make_error("ftrace: register_ftrace_direct: kernel {} has no "
                          "DYNAMIC_FTRACE_WITH_DIRECT_CALLS (arm64 has it from 6.4, "
                          "2aa6ac03516d): its call sites can only branch to {}, so reaching a "
                          "trampoline in a far module would take a PLT per target function "
                          "(Mark Rutland, seeds/004)",
                          m_era.name, m_layout.entry);
    }
    if (addr.value == 0) {
        return make_error("ftrace: register_ftrace_direct: '{}' has no trampoline address", name);
    }
    const FtraceHash wanted = resolve_filter(filter, m_sites.patch_sites(), m_machine.symbols());
    if (wanted.empty()) {
        return make_error("ftrace: register_ftrace_direct: '{}' matches no call site",
                          fmt::join(filter.globs(), " "));
    }
    for (const GuestAddr function : wanted) {
        if (const OpsId other = m_registry.direct_ops_for(function)) {
            Error e = make_error("ftrace: register_ftrace_direct: {} already branches to {} "
                                 "(ops '{}')",
                                 m_machine.symbolize(function).str(),
                                 m_machine.symbolize(m_registry.find(other)->direct_call).str(),
                                 m_registry.find(other)->name);
            e.code = EBUSY;
            return e;
        }
    }
    FtraceOps ops;
    ops.name = std::move(name);
    ops.filter_ips = wanted;
    ops.direct_call = addr;
    // call_direct_funcs: run by on_ops_call for any ops with a direct_call.
    ops.func = [](FtraceCall&) {};
    KLP_TRY_ASSIGN(id, register_ops(std::move(ops)));
    if (m_direct_check) {
        m_direct_check->set_active(true);
    }
    return id;
}

Result<void> Ftrace::modify_direct(OpsId id, GuestAddr addr) {
    const FtraceOps* ops = m_registry.find(id);
    if (ops == nullptr || ops->direct_call.value == 0) {
        return make_error("ftrace: modify_ftrace_direct: ops {} is not a registered direct ops",
                          id);
    }
    // Every site through ftrace_caller's list function while the address changes, so no CPU
    // branches from a site to a trampoline the ops no longer names.
    FtraceOps tmp;
    tmp.name = "ftrace direct tmp_ops";
    tmp.filter_ips = m_registry.filter_hash(id);
    tmp.func = [](FtraceCall&) {};
    KLP_TRY_ASSIGN(tmp_id, register_ops(std::move(tmp)));
    m_registry.set_direct_call(id, addr);
    store_record_direct(id);
    return unregister_ops(tmp_id);
}

Result<void> Ftrace::unregister_direct(OpsId id) {
    const FtraceOps* ops = m_registry.find(id);
    if (ops == nullptr || ops->direct_call.value == 0) {
        return make_error("ftrace: unregister_ftrace_direct: ops {} is not a registered direct "
                          "ops",
                          id);
    }
    KLP_TRY(unregister_ops(id));
    return {};
}

} // namespace klpemu::patcher
