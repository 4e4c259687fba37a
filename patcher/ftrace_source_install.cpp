// Installing a kernel tree's own entry-ftrace.S (FtraceOptions::source) in place of the bundled
// trampoline: build it for the era (ftrace_source.h), load klpemu's support code first (the
// symbols the file calls and reads), then the file, and find the PCs the engine and its checks
// need. The bundled files mark their exits with labels; a kernel's file does not, so the exits
// are found the way a reader finds them: the `ret x9` that leaves the trampoline for the traced
// function, and the `ret` that leaves return_to_handler.
#include "patcher/ftrace.h"

#include "emu/insn_encoding.h"

#include <fmt/format.h>

namespace klpemu::patcher {

namespace {

constexpr uint32_t kRetX9 = 0xd65f0120; // ret x9
constexpr uint32_t kRet = 0xd65f03c0;   // ret
constexpr uint32_t kBrX17 = 0xd61f0220; // br x17
// How far past an entry its exit may be (the v5.5 regs entries sit before ftrace_common).
constexpr int kMaxScanWords = 1024;

// The first `word` at or after `from`, or an error naming what was looked for.
Result<GuestAddr> find_word(const emu::Machine& machine, GuestAddr from, uint32_t word,
                            std::string_view what) {
    for (int i = 0; i < kMaxScanWords; ++i) {
        uint32_t raw = 0;
        const GuestAddr pc = from + int64_t(4 * i);
        if (!machine.memory().read(pc, &raw, sizeof raw).ok()) {
            break;
        }
        if (raw == word) {
            return pc;
        }
    }
    return make_error("{}", what);
}

} // namespace

Result<void> Ftrace::load_source_trampoline() {
    KLP_CHECK(m_options.source.has_value(), "load_source_trampoline without a source");
    auto built = build_ftrace_source(*m_options.source, m_era, m_layout);
    if (!built) {
        return make_error("ftrace_source: {}", built.error().message);
    }
    FtraceSourceBuild& build = *built;

    // What return_to_handler passes to ftrace_return_to_handler (KernelEraInfo): its x29 up to
    // v6.4, a struct fgraph_ret_regs on v6.5..v6.12, a struct ftrace_regs from v6.13.
    auto loaded = m_machine.load_assembly(era_guest_source("ftrace_source_support.S"),
                                          "ftrace_source_support.S");
    KLP_CHECK(loaded.ok(), "ftrace_source_support.S: {}",
              loaded.ok() ? "" : loaded.error().message);
    auto own = m_machine.load_assembly(build.preprocessed, build.name);
    if (!own) {
        return make_error("ftrace_source: {}", own.error().message);
    }

    auto need = [&](std::string_view name, GuestAddr& out, std::string_view why) -> Result<void> {
        auto a = m_machine.symbol(name);
        if (!a.ok()) {
            return make_error("ftrace_source: {} defines no '{}' ({}; kernel {}, trampoline {}, "
                              "Kconfig {})",
                              build.name, name, why, m_era.name, m_layout.name,
                              fmt::join(build.kconfig, " "));
        }
        out = *a;
        return {};
    };
    KLP_TRY(need(m_layout.entry, m_trampoline, "the entry call sites branch to"));
    m_caller = m_trampoline;
    if (m_era.patched_entry == emu::PatchedEntry::CallerUnlessSaveRegs &&
        m_layout.entry == "ftrace_regs_caller") {
        KLP_TRY(need("ftrace_caller", m_caller, "the entry without SAVE_REGS"));
    }
    if (!m_layout.call_ops) {
        KLP_TRY(need("ftrace_call", m_ftrace_call, "the tracer call site klpemu patches"));
        m_poke.watch(m_ftrace_call);
    }
    KLP_TRY(need("ftrace_stub", m_ftrace_stub, "the empty tracer"));
    KLP_TRY(need("return_to_handler", m_return_to_handler,
                 "the graph tracer's return hook; CONFIG_FUNCTION_GRAPH_TRACER=y"));
    KLP_TRY(need("ftrace_ops_list_func", m_list_func, "support"));
    KLP_TRY(need("ftrace_nop_ops", m_nop_ops, "support"));
    KLP_TRY(need("ftrace_list_ops", m_list_ops, "support"));
    KLP_TRY(need("ftrace_ops_pool", m_pool, "support"));
    KLP_TRY(need("ftrace_ops_pool_end", m_pool_end, "support"));
    // The CALL_OPS literal of a site no ops traces points at ftrace_nop_ops, whose func is the
    // file's own ftrace_stub.
    m_machine.memory().store<uint64_t>(m_nop_ops, m_ftrace_stub.value);

    const GuestAddr first_entry = std::min(m_trampoline, m_caller);
    auto exit = find_word(m_machine, first_entry, kRetX9,
                          fmt::format("ftrace_source: {}: no `ret x9` after {}: klpemu checks the "
                                      "trampoline at the return to the traced function",
                                      build.name, m_layout.entry));
    KLP_TRY(exit);
    m_trampoline_ret = *exit;
    auto rth =
        find_word(m_machine, m_return_to_handler, kRet,
                  fmt::format("ftrace_source: {}: no `ret` after return_to_handler", build.name));
    KLP_TRY(rth);
    m_return_to_handler_ret = *rth;
    if (direct_calls()) {
        // ftrace_caller_direct: both direct paths (the site's own ops, and the late exit after
        // other tracers) leave through one `br x17` in the kernel's file and in klpemu's.
        auto br =
            find_word(m_machine, m_trampoline, kBrX17,
                      fmt::format("ftrace_source: {}: no `br x17` after {}: klpemu checks the "
                                  "branch to a direct trampoline (DIRECT_CALLS)",
                                  build.name, m_layout.entry));
        KLP_TRY(br);
        m_source_direct_exit = *br;
    }
    // Up to v5.19 the graph tracer is enabled by patching ftrace_graph_call (a NOP) into
    // `b ftrace_graph_caller`; the file must have both, as the era's ftrace.c links against them.
    if (m_era.has(emu::EraFeature::GraphCaller)) {
        KLP_TRY(need("ftrace_graph_call", m_graph_call,
                     "the graph tracer's call site klpemu patches up to v5.19"));
        KLP_TRY(need("ftrace_graph_caller", m_graph_caller, "where ftrace_graph_call branches"));
        m_poke.watch(m_graph_call);
    }
    m_machine.register_host_call(hc::kPrepareReturn,
                                 [this](emu::HostCallContext& ctx) { on_prepare_return(ctx); });
    build.object = std::move(*own);
    m_source_build = std::move(build);
    return {};
}

Result<void> Ftrace::set_graph_caller(OpsId ops) {
    KLP_CHECK(graph_by_caller(), "set_graph_caller on a trampoline without ftrace_graph_call");
    if ((ops != 0) == (m_graph_ops != 0)) {
        m_graph_ops = ops;
        return {};
    }
    auto branch = a64::b(m_graph_call, m_graph_caller);
    if (!branch) {
        return make_error(
            "ftrace_source: ftrace_graph_call cannot branch to ftrace_graph_caller: {}",
            branch.error().message);
    }
    const InsnWord nop = a64::nop();
    KLP_TRY(poke(ops != 0 ? TextPatch{m_graph_call, nop, *branch, PatchPurpose::TracerCall}
                          : TextPatch{m_graph_call, *branch, nop, PatchPurpose::TracerCall}));
    m_graph_ops = ops;
    return {};
}

// prepare_ftrace_return(self_addr, parent, frame_pointer), as ftrace_graph_caller calls it:
// x0 = rec->ip, x1 = the address of the saved lr in the register block, x2 = the call site's
// frame pointer. function_graph_enter runs for the functions the graph ops traces (the other
// sites reach ftrace_graph_caller too, since it is one branch for all of them).
void Ftrace::on_prepare_return(emu::HostCallContext& ctx) {
    if (m_graph_call.value == 0) {
        m_machine.report("not-modelled", Severity::Fatal, ctx.pc(), ctx.cpu(), ctx.task().id,
                         fmt::format("prepare_ftrace_return reached: kernel {} does not patch "
                                     "ftrace_graph_call (its graph tracer hijacks the return "
                                     "address as an ftrace ops)",
                                     m_era.name));
        m_machine.request_stop();
        return;
    }
    const GuestAddr ip(ctx.arg(0));
    const GuestAddr parent(ctx.arg(1));
    const GuestAddr fp(ctx.arg(2));
    const CallSite* site = m_sites.find(ip);
    if (site == nullptr || m_graph_ops == 0 || !m_registry.traces(m_graph_ops, site->site)) {
        return;
    }
    const GuestAddr ret(m_machine.memory().load<uint64_t>(parent));
    m_graph_tracer->enter(ctx.task().id, ctx.cpu(), site->site.function, ip, ret, fp);
    m_machine.memory().store<uint64_t>(parent, m_return_to_handler.value);
    if (m_abi_check) {
        m_abi_check->redirected(ctx.task().id, m_return_to_handler, std::nullopt);
    }
}

} // namespace klpemu::patcher
