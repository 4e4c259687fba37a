// arm64 ftrace for klpemu: trampoline installation, ops registration and dispatch from the
// trampoline's host call, and the transcript's event stream (see ftrace.h; reference §1, §2,
// §3, §9). The call sites and their state machine are in ftrace_call_sites.cpp, the ops hashes
// in ftrace_ops.cpp, the tracers in function_tracer/graph_tracer/tracers.cpp, the checks in
// ftrace_abi_check.cpp and ftrace_brk_check.cpp (store-below-sp watches every kernel stack
// whether or not ftrace is on: emu/store_below_sp_check.h).
#include "patcher/ftrace.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace klpemu::patcher {

std::string_view embedded_guest_source(std::string_view file_name);

namespace {

// Offsets in a guest ftrace_ops record { func, id, direct_call } (ftrace_support.S).
constexpr int64_t kOpsRecordId = 8;
// ftrace_regs.direct_tramp (FREGS_DIRECT_TRAMP, ftrace_call_ops.S).
constexpr int64_t kFregsDirectTramp = 72;

} // namespace

// TextTarget over the machine's single text writer.
class Ftrace::MachineText final : public TextTarget {
  public:
    explicit MachineText(emu::Machine& machine) : m_machine(machine) {}

    Result<InsnWord> read_word(GuestAddr pc) const override {
        uint32_t raw = 0;
        KLP_TRY(m_machine.memory().read(pc, &raw, sizeof raw));
        return InsnWord(raw);
    }
    Result<void> write_word(GuestAddr pc, InsnWord word) override {
        return m_machine.write_text(pc, word);
    }
    Result<uint64_t> read_u64(GuestAddr addr) const override {
        uint64_t v = 0;
        KLP_TRY(m_machine.memory().read(addr, &v, sizeof v));
        return v;
    }
    Result<void> write_u64(GuestAddr addr, uint64_t value) override {
        std::array<uint8_t, 8> bytes{};
        for (size_t i = 0; i < bytes.size(); ++i) {
            bytes[i] = uint8_t(value >> (8 * i));
        }
        return m_machine.write_text_bytes(addr, bytes);
    }
    uint64_t instruction_count() const override { return m_machine.instructions(); }
    void set_stale_view(int cpu, GuestAddr pc, std::optional<InsnWord> word) override {
        m_machine.set_stale_view(cpu, pc, word);
    }

  private:
    emu::Machine& m_machine;
};

Ftrace::Ftrace(emu::Machine& machine, const FtraceOptions& options)
    : m_machine(machine), m_options(options), m_layout(trampoline_layout(options.variant)),
      m_era(emu::era_info(options.era)), m_text(std::make_unique<MachineText>(machine)),
      m_poke(*m_text, machine.symbols(), machine.cpu_count()), m_registry(machine.symbols()) {}

Ftrace::~Ftrace() {
    m_machine.set_text_alias_writer(nullptr);
    m_machine.remove_observer(this);
}

Result<std::unique_ptr<Ftrace>> Ftrace::create(emu::Machine& machine,
                                               const FtraceOptions& options) {
    std::unique_ptr<Ftrace> ftrace(new Ftrace(machine, options));
    KLP_TRY(ftrace->install());
    return ftrace;
}

Result<void> Ftrace::install() {
    KLP_TRY(m_options.source ? load_source_trampoline() : load_bundled_trampoline());
    // The guest ftrace_ops records are laid out back to back (ftrace_nop_ops, ftrace_list_ops).
    m_ops_record_size = m_list_ops - m_nop_ops;
    KLP_CHECK(m_ops_record_size >= 16, "ftrace_list_ops must follow ftrace_nop_ops");
    for (GuestAddr a = m_pool_end - m_ops_record_size; a >= m_pool; a = a - m_ops_record_size) {
        m_free_records.push_back(a);
    }
    m_function_tracer = std::make_unique<FunctionTracer>(m_machine, m_trace);
    m_graph_tracer = std::make_unique<GraphTracer>(m_machine, m_trace, m_return_to_handler);
    m_tracers = std::make_unique<Tracers>(*this, *m_function_tracer, *m_graph_tracer);
    m_machine.register_host_call(hc::kFtraceOps,
                                 [this](emu::HostCallContext& ctx) { on_ops_call(ctx); });
    m_machine.register_host_call(
        hc::kGraphReturn, [this](emu::HostCallContext& ctx) { m_graph_tracer->on_return(ctx); });
    m_machine.add_observer(this);
    // The direct-call paths of 6.4+ CALL_OPS trampolines: the bundled file labels its `br x17`
    // ftrace_caller_direct; a kernel tree's own file had it found at load.
    const bool direct = direct_calls();
    if (m_options.check_abi) {
        GuestAddr direct_exit = m_source_direct_exit;
        if (direct && !m_options.source) {
            auto a = m_machine.symbol("ftrace_caller_direct");
            if (!a.ok()) {
                return make_error("ftrace: {}", a.error().message);
            }
            direct_exit = *a;
        }
        m_abi_check = std::make_unique<FtraceAbiCheck>(
            m_machine,
            FtraceAbiCheck::Probes{m_trampoline, m_trampoline_ret, m_return_to_handler,
                                   m_return_to_handler_ret, m_layout.entry,
                                   m_caller == m_trampoline ? GuestAddr{} : m_caller, direct_exit});
    }
    if (m_options.check_abi && direct) {
        m_direct_check = std::make_unique<FtraceDirectCheck>(
            m_machine,
            [this](GuestAddr pc) {
                for (const auto& [id, record] : m_records) {
                    const FtraceOps* ops = m_registry.find(id);
                    if (ops != nullptr && ops->direct_call == pc) {
                        return true;
                    }
                }
                return false;
            },
            [this](GuestAddr pc, GuestAddr rec_ip) {
                const CallSite* site = m_sites.find(rec_ip);
                if (site == nullptr) {
                    return false;
                }
                const OpsId id = m_registry.direct_ops_for(site->site.function_addr);
                return id != 0 && m_registry.find(id)->direct_call == pc;
            });
    }
    m_brk_check = std::make_unique<FtraceBrkCheck>(
        m_machine, [this](GuestAddr pc) { return m_sites.is_site_word(pc); },
        [this](GuestAddr pc, InsnWord word) { return m_poke.describe(pc, word); });
    install_guest_writes(*m_text);
    return {};
}

namespace {

// Replaces the line `// klpemu-splice: NAME` of `source` (guest file `file`) with the embedded
// guest file NAME, between cpp line markers that keep both files' line numbers.
std::string splice_guest_sources(std::string_view source, std::string_view file) {
    constexpr std::string_view kMarker = "// klpemu-splice: ";
    std::string out;
    size_t line = 1;
    size_t pos = 0;
    while (pos < source.size()) {
        const size_t end = std::min(source.find('\n', pos), source.size());
        const std::string_view text = source.substr(pos, end - pos);
        if (text.starts_with(kMarker)) {
            const std::string_view name = text.substr(kMarker.size());
            const std::string_view part = embedded_guest_source(name);
            KLP_CHECK(!part.empty(), "{}:{}: guest source {} is not embedded", file, line, name);
            out += fmt::format("# 1 \"{}\"\n{}{}# {} \"{}\"\n", name, part,
                               part.ends_with('\n') ? "" : "\n", line + 1, file);
        } else {
            out += text;
            out += '\n';
        }
        pos = end + 1;
        ++line;
    }
    return out;
}

} // namespace

std::string Ftrace::era_guest_source(std::string_view file) const {
    const std::string_view raw = embedded_guest_source(file);
    KLP_CHECK(!raw.empty(), "guest source {} is not embedded", file);
    const int ret_abi = m_era.return_to_handler_frame == 64   ? 0
                        : m_era.return_to_handler_frame == 80 ? 1
                                                              : 2;
    // The era's switches, each read by the files that need it: KLPEMU_RET_ABI (how
    // return_to_handler calls ftrace_return_to_handler), KLPEMU_GRAPH_CALLER (ftrace_graph_call,
    // up to v5.19) and KLP_DIRECT_CALLS (the CALL_OPS trampoline's direct-call paths, 6.4+).
    return fmt::format(".set KLPEMU_RET_ABI, {}\n.set KLPEMU_GRAPH_CALLER, {}\n"
                       ".set KLP_DIRECT_CALLS, {}\n# 1 \"{}\"\n{}",
                       ret_abi, graph_caller_era() ? 1 : 0, direct_calls() ? 1 : 0, file,
                       splice_guest_sources(raw, file));
}

bool Ftrace::graph_caller_era() const {
    return m_era.has(emu::EraFeature::GraphCaller);
}

Result<void> Ftrace::load_bundled_trampoline() {
    // The graph tracer's return path is the era's (ftrace_support.S).
    for (const auto& [file, text] :
         {std::pair{std::string_view("ftrace_support.S"), era_guest_source("ftrace_support.S")},
          std::pair{m_layout.source_file, era_guest_source(m_layout.source_file)}}) {
        auto loaded = m_machine.load_assembly(text, file);
        if (!loaded.ok()) {
            return make_error("ftrace: loading {}: {}", file, loaded.error().message);
        }
    }
    auto need = [&](std::string_view name, GuestAddr& out) -> Result<void> {
        auto a = m_machine.symbol(name);
        if (!a.ok()) {
            return make_error("ftrace: {}", a.error().message);
        }
        out = *a;
        return {};
    };
    KLP_TRY(need(m_layout.entry, m_trampoline));
    // v5.5..v6.1 patch ftrace_caller unless an ops on the site asks for SAVE_REGS.
    m_caller = m_trampoline;
    if (m_era.patched_entry == emu::PatchedEntry::CallerUnlessSaveRegs &&
        m_layout.entry == "ftrace_regs_caller") {
        KLP_TRY(need("ftrace_caller", m_caller));
    }
    KLP_TRY(need("ftrace_caller_ret", m_trampoline_ret));
    if (!m_layout.call_ops) {
        KLP_TRY(need("ftrace_call", m_ftrace_call));
        m_poke.watch(m_ftrace_call);
    }
    KLP_TRY(need("ftrace_stub", m_ftrace_stub));
    KLP_TRY(need("ftrace_ops_list_func", m_list_func));
    KLP_TRY(need("ftrace_nop_ops", m_nop_ops));
    KLP_TRY(need("ftrace_list_ops", m_list_ops));
    KLP_TRY(need("ftrace_ops_pool", m_pool));
    KLP_TRY(need("ftrace_ops_pool_end", m_pool_end));
    KLP_TRY(need("return_to_handler", m_return_to_handler));
    KLP_TRY(need("return_to_handler_ret", m_return_to_handler_ret));
    // Up to v5.19 the pt_regs trampolines have the graph caller; a trampoline the era never
    // had (an explicit `ftrace` key) runs the graph tracer as an ops, as later kernels do.
    if (graph_caller_era() && m_machine.symbol("ftrace_graph_call").ok()) {
        KLP_TRY(need("ftrace_graph_call", m_graph_call));
        KLP_TRY(need("ftrace_graph_caller", m_graph_caller));
        m_poke.watch(m_graph_call);
        m_machine.register_host_call(hc::kPrepareReturn,
                                     [this](emu::HostCallContext& ctx) { on_prepare_return(ctx); });
    }
    return {};
}

PokeContext Ftrace::poke_context() const {
    return PokeContext{m_options.writer_cpu, false};
}

Result<void> Ftrace::poke(const TextPatch& patch) {
    auto r = m_poke.apply(patch, poke_context());
    flush_poke_findings();
    return r;
}

void Ftrace::flush_poke_findings() {
    for (Finding& f : m_poke.take_findings()) {
        m_machine.add_finding(std::move(f));
    }
}

Error Ftrace::killed_error(std::string_view what) const {
    Error e = make_error("ftrace: {}: -ENODEV: ftrace is disabled (ftrace_bug called ftrace_kill "
                         "earlier in this run)",
                         what);
    e.code = ENODEV;
    return e;
}

Result<OpsId> Ftrace::register_ops(FtraceOps ops) {
    if (m_killed) {
        return killed_error(fmt::format("register_ftrace_function '{}'", ops.name));
    }
    if (ops.flags.has(FtraceOpsFlag::SaveRegs) && !saves_pt_regs(m_options.variant)) {
        Error e = make_error("ftrace: ops '{}' needs FTRACE_OPS_FL_SAVE_REGS but the {} "
                             "trampoline passes ftrace_regs, not pt_regs",
                             ops.name, m_layout.name);
        e.code = EINVAL;
        return e;
    }
    const std::vector<PatchSite> sites = m_sites.patch_sites();
    if (m_free_records.empty()) {
        return make_error("ftrace: ops '{}': no free ftrace_ops record (at most {})", ops.name,
                          (m_pool_end - m_pool) / m_ops_record_size);
    }
    KLP_TRY_ASSIGN(id, m_registry.add(std::move(ops), sites));
    const GuestAddr record = m_free_records.back();
    m_free_records.pop_back();
    m_records.emplace(id, record);
    m_machine.memory().store<uint64_t>(record + kOpsRecordId, uint64_t(id));
    store_record_direct(id);
    KLP_TRY(update_tracer_call());
    KLP_TRY(update_sites());
    return id;
}

Result<void> Ftrace::unregister_ops(OpsId id) {
    if (m_killed) {
        const FtraceOps* ops = m_registry.find(id);
        return killed_error(
            fmt::format("unregister_ftrace_function '{}'", ops != nullptr ? ops->name : "?"));
    }
    KLP_TRY(m_registry.remove(id));
    const GuestAddr record = m_records.at(id);
    m_records.erase(id);
    KLP_TRY(update_sites());
    KLP_TRY(update_tracer_call());
    // The record stays callable (nothing points at it now), as ops are freed only after an
    // RCU-tasks grace period in the kernel.
    m_machine.memory().store<uint64_t>(record + kOpsRecordId, 0);
    m_machine.memory().store<uint64_t>(record + kOpsRecordId + 8, 0); // direct_call
    m_free_records.push_back(record);
    return {};
}

Result<size_t> Ftrace::add_ops_filter(OpsId id, const FtraceFilter& filter) {
    if (m_killed) {
        return killed_error("ftrace_set_filter");
    }
    KLP_TRY_ASSIGN(matched, m_registry.add_filter(id, filter, m_sites.patch_sites()));
    if (matched == 0) {
        return size_t(0);
    }
    KLP_TRY(update_sites());
    return matched;
}

size_t Ftrace::remove_ops_filter(OpsId id, const FtraceFilter& filter) {
    return m_registry.remove_filter(id, filter, m_sites.patch_sites());
}

Result<void> Ftrace::enable(std::string_view filter, TracerKind tracer) {
    // After ftrace_kill, register_ops or add_ops_filter refuses, naming the call that failed.
    return m_tracers->enable(filter, tracer);
}

Result<void> Ftrace::disable(std::string_view filter) {
    if (m_killed) {
        // Here, not in Tracers: it changes the filter hashes before anything could refuse.
        return killed_error(fmt::format("disable '{}'", filter));
    }
    return m_tracers->disable(filter);
}

Result<void> Ftrace::apply_action(bool enable_sites, std::string_view filter,
                                  std::string_view tracer) {
    if (!enable_sites) {
        return disable(filter);
    }
    KLP_TRY_ASSIGN(kind, parse_tracer_kind(tracer.empty() ? "function" : tracer));
    return enable(filter, kind);
}

std::vector<Ftrace::Event> Ftrace::take_events() {
    std::vector<Event> out;
    const auto& log = m_poke.log();
    size_t p = m_log_taken;
    size_t t = m_trace_taken;
    while (p < log.size() || t < m_trace.size()) {
        const bool patch_first =
            t == m_trace.size() || (p < log.size() && log[p].instruction <= m_trace.instruction(t));
        if (patch_first) {
            out.push_back(Event{Event::Kind::Patch, log[p].line, log[p].instruction});
            ++p;
        } else {
            out.push_back(Event{Event::Kind::Trace, m_trace.lines()[t], m_trace.instruction(t)});
            ++t;
        }
    }
    m_log_taken = p;
    m_trace_taken = t;
    return out;
}

std::vector<std::string> Ftrace::patch_log() const {
    std::vector<std::string> out;
    for (const PokeRecord& r : m_poke.log()) {
        out.push_back(r.line);
    }
    return out;
}

// ---- the trampoline's host calls ---------------------------------------------------------------

void Ftrace::on_ops_call(emu::HostCallContext& ctx) {
    const GuestAddr ip(ctx.arg(0));
    const GuestAddr parent(ctx.arg(1));
    const GuestAddr ops(ctx.arg(2));
    const GuestAddr regs_base(ctx.arg(3));
    const CallSite* found = m_sites.find(ip);
    if (found == nullptr) {
        return; // Not a call site ftrace knows: nothing to run (the kernel would not get here).
    }
    const CallSite& site = *found;
    std::vector<OpsId> ids;
    if (ops == m_list_ops) {
        ids = m_registry.ops_for(site.site); // ftrace_ops_list_func: every ops tracing ip.
    } else if (ops >= m_pool && ops < m_pool_end) {
        const auto id = OpsId(m_machine.memory().load<uint64_t>(ops + kOpsRecordId));
        if (m_registry.traces(id, site.site)) {
            ids.push_back(id);
        }
    }
    if (ids.empty()) {
        return;
    }
    ++m_ops_calls;
    FtraceRegs regs(m_machine.memory(), regs_base, m_layout);
    const std::string function = site.site.function;
    for (OpsId id : ids) {
        const FtraceOps* registered = m_registry.find(id);
        if (registered == nullptr) {
            continue; // Unregistered by an earlier callback of this call.
        }
        FtraceFunc func = registered->func;
        const GuestAddr direct = registered->direct_call;
        FtraceCall call{ctx, ip, parent, function, regs};
        func(call);
        if (direct.value != 0 && m_layout.call_ops) {
            // call_direct_funcs -> arch_ftrace_set_direct_caller: ftrace_caller's late exit
            // branches there instead of returning to the function.
            m_machine.memory().store<uint64_t>(regs_base + kFregsDirectTramp, direct.value);
        }
    }
    if (m_abi_check && (regs.lr_changed() || regs.pc_changed())) {
        m_abi_check->redirected(ctx.task().id,
                                regs.lr_changed() ? std::optional(regs.lr()) : std::nullopt,
                                regs.pc_changed() ? std::optional(regs.pc()) : std::nullopt);
    }
}

const GraphReturnStack& Ftrace::graph_return_stack(int task) {
    return m_graph_tracer->return_stack(task);
}

// ---- TextPoke's view of the CPUs ----------------------------------------------------------------

void Ftrace::on_instruction(const emu::InsnEvent& ev) {
    m_poke.on_instruction(ev.cpu, ev.pc, ev.word, ev.instruction);
    if (m_poke.has_findings()) {
        flush_poke_findings();
    }
}

void Ftrace::on_context_sync(int cpu) {
    m_poke.on_context_sync(cpu);
}

} // namespace klpemu::patcher
