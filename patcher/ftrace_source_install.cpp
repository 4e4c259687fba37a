// Installing a kernel tree's own entry-ftrace.S (FtraceOptions::source) in place of the bundled
// trampoline: build it for the era (ftrace_source.h), load klpemu's support code first (the
// symbols the file calls and reads), then the file, and find the PCs the engine and its checks
// need. The bundled files mark their exits with labels; a kernel's file does not, so the exits
// are found the way a reader finds them: the `ret x9` that leaves the trampoline for the traced
// function, and the `ret` that leaves return_to_handler.
#include "patcher/ftrace.h"

#include <fmt/format.h>

namespace klpemu::patcher {

std::string_view embedded_guest_source(std::string_view file_name);

namespace {

constexpr uint32_t kRetX9 = 0xd65f0120; // ret x9
constexpr uint32_t kRet = 0xd65f03c0;   // ret
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

    // Up to v6.4 return_to_handler passed its x29 (64-byte frame); later kernels a register block.
    const bool ret_by_fp = m_era.return_to_handler_frame == 64;
    const std::string support = fmt::format(".set KLPEMU_RET_BY_FP, {}\n{}", ret_by_fp ? 1 : 0,
                                            embedded_guest_source("ftrace_source_support.S"));
    auto loaded = m_machine.load_assembly(support, "ftrace_source_support.S");
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
    m_machine.register_host_call(hc::kPrepareReturn, [this](emu::HostCallContext& ctx) {
        // The graph tracer runs as an ftrace ops (it rewrites the saved lr); nothing patches
        // ftrace_graph_call to reach ftrace_graph_caller yet.
        m_machine.report("not-modelled", Severity::Fatal, ctx.pc(), ctx.cpu(), ctx.task().id,
                         "prepare_ftrace_return reached: klpemu does not patch ftrace_graph_call "
                         "yet (its graph tracer hijacks the return address as an ftrace ops)");
        m_machine.request_stop();
    });
    build.object = std::move(*own);
    m_source_build = std::move(build);
    return {};
}

} // namespace klpemu::patcher
