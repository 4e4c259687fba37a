// arm64 ftrace for klpemu: trampoline installation, call-site bookkeeping, ops dispatch from
// the trampoline's host call, the function and function-graph tracers, and the per-step checks
// of ftrace's invariants (see ftrace.h; reference §1, §2, §3, §9).
#include "patcher/ftrace.h"

#include "emu/insn_encoding.h"
#include "patcher/ftrace_callsite.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace klpemu::patcher {

std::string_view embedded_guest_source(std::string_view file_name);

namespace {

// Two NOPs, as the compiler leaves the CALL_OPS literal before ftrace_init_nop sets it.
constexpr uint64_t kLiteralNops = 0xd503201fd503201fULL;
// Offset of the host id in a guest ftrace_ops record { func, id } (ftrace_support.S).
constexpr int64_t kOpsRecordId = 8;
constexpr uint64_t kOpsRecordSize = 16;

// The SP a store leaves behind when it is a pre-indexed store with SP as the base (`stp x29,
// x30, [sp, #-16]!`): the hook sees the old SP, but the store lands at and above the new one.
// Nullopt for every other instruction.
std::optional<uint64_t> sp_after_pre_indexed_store(InsnWord w, uint64_t sp) {
    const uint32_t x = w.raw;
    const uint32_t rn = (x >> 5) & 0x1f;
    if (rn != 31) {
        return std::nullopt;
    }
    // STP/STNP class, pre-indexed, L = 0: opc 101 V 011 0 imm7 Rt2 Rn Rt.
    if ((x & 0x3bc00000) == 0x29800000) {
        const uint32_t opc = x >> 30;
        const bool simd = (x >> 26) & 1;
        const int64_t scale = simd ? (int64_t(4) << opc) : (int64_t(4) << (opc >> 1));
        const int64_t imm7 = int64_t(int32_t(x << 10) >> 25);
        return sp + uint64_t(imm7 * scale);
    }
    // STR (immediate), pre-indexed: size 111 V 00 opc(00) 0 imm9 11 Rn Rt.
    if ((x & 0x3be00c00) == 0x38000c00) {
        const int64_t imm9 = int64_t(int32_t(x << 11) >> 23);
        return sp + uint64_t(imm9);
    }
    return std::nullopt;
}

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

  private:
    emu::Machine& m_machine;
};

Ftrace::Ftrace(emu::Machine& machine, const FtraceOptions& options)
    : m_machine(machine), m_options(options), m_layout(trampoline_layout(options.variant)),
      m_text(std::make_unique<MachineText>(machine)),
      m_poke(*m_text, machine.symbols(), machine.cpu_count()), m_registry(machine.symbols()) {}

Ftrace::~Ftrace() {
    m_machine.remove_observer(this);
}

Result<std::unique_ptr<Ftrace>> Ftrace::create(emu::Machine& machine,
                                               const FtraceOptions& options) {
    std::unique_ptr<Ftrace> ftrace(new Ftrace(machine, options));
    KLP_TRY(ftrace->install());
    return ftrace;
}

Result<void> Ftrace::install() {
    for (std::string_view file : {std::string_view("ftrace_support.S"), m_layout.source_file}) {
        const std::string_view source = embedded_guest_source(file);
        KLP_CHECK(!source.empty(), "guest source {} is not embedded", file);
        auto loaded = m_machine.load_assembly(source, file);
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
    for (GuestAddr a = m_pool_end - int64_t(kOpsRecordSize); a >= m_pool;
         a = a - int64_t(kOpsRecordSize)) {
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

Result<void> Ftrace::add_object(const LoadedObject& object) {
    for (const PatchSite& ps : object.patch_sites) {
        if (m_site_by_ip.contains(ps.rec_ip)) {
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
        PokeContext init = poke_context();
        init.text_not_live = true;
        auto r = m_poke.apply(init_nop_patch(ps), init);
        flush_poke_findings();
        if (!r.ok()) {
            return make_error("ftrace: ftrace_init_nop: {}", r.error().message);
        }
        const size_t index = m_sites.size();
        m_site_by_ip.emplace(ps.rec_ip, index);
        m_site_by_word.emplace(ps.rec_ip, index);
        m_site_by_word.emplace(ps.first_nop, index);
        m_sites.push_back(std::move(site));
    }
    return {};
}

Result<void> Ftrace::module_enable(const LoadedObject& object) {
    std::set<GuestAddr> own;
    for (const PatchSite& ps : object.patch_sites) {
        own.insert(ps.rec_ip);
    }
    m_registry.object_added(object.patch_sites);
    for (CallSite& site : m_sites) {
        if (own.contains(site.site.rec_ip)) {
            KLP_TRY(update_site(site));
        }
    }
    return {};
}

void Ftrace::remove_sites(GuestRange range) {
    m_registry.text_freed(range);
    std::erase_if(m_sites, [&](const CallSite& s) { return range.contains(s.site.rec_ip); });
    m_site_by_ip.clear();
    m_site_by_word.clear();
    for (size_t i = 0; i < m_sites.size(); ++i) {
        m_site_by_ip.emplace(m_sites[i].site.rec_ip, i);
        m_site_by_word.emplace(m_sites[i].site.rec_ip, i);
        m_site_by_word.emplace(m_sites[i].site.first_nop, i);
    }
}

std::vector<PatchSite> Ftrace::recorded_sites() const {
    std::vector<PatchSite> out;
    out.reserve(m_sites.size());
    for (const CallSite& site : m_sites) {
        out.push_back(site.site);
    }
    return out;
}

Result<GuestAddr> Ftrace::callable_addr(CallSite& site) {
    if (a64::reachable_by_bl(site.site.rec_ip, m_trampoline)) {
        return m_trampoline;
    }
    if (m_callable_hook) {
        if (auto plt = m_callable_hook(site.site)) {
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
        auto patch = make_nop_patch(site.site, site.target);
        if (!patch.ok()) {
            return patch.error();
        }
        KLP_TRY(poke(*patch));
        site.state = CallSiteState::Off;
        return {};
    }
    const uint64_t want_literal = ops.size() == 1 ? m_records.at(ops[0]).value : m_list_ops.value;
    if (site.state == CallSiteState::On) {
        // ftrace_modify_call with the same target: only the literal changes.
        if (m_layout.call_ops && site.literal != want_literal) {
            KLP_TRY(write_site_literal(site, want_literal));
        }
        return {};
    }
    auto target = callable_addr(site);
    if (!target.ok()) {
        add_finding("bl-out-of-range", Severity::Error, site.site.rec_ip, m_options.writer_cpu, -1,
                    target.error().message);
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
    auto patch = make_call_patch(site.site, *target);
    if (!patch.ok()) {
        return patch.error();
    }
    KLP_TRY(poke(*patch));
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

// A trampoline that hands its callbacks a full pt_regs (CONFIG_DYNAMIC_FTRACE_WITH_REGS).
static bool saves_pt_regs(TrampolineVariant v) {
    return v == TrampolineVariant::Regs || v == TrampolineVariant::RegsV3 ||
           v == TrampolineVariant::RegsV4;
}

Result<OpsId> Ftrace::register_ops(FtraceOps ops) {
    if (ops.flags.has(FtraceOpsFlag::SaveRegs) && !saves_pt_regs(m_options.variant)) {
        Error e = make_error("ftrace: ops '{}' needs FTRACE_OPS_FL_SAVE_REGS but the {} "
                             "trampoline passes ftrace_regs, not pt_regs",
                             ops.name, m_layout.name);
        e.code = EINVAL;
        return e;
    }
    const std::vector<PatchSite> sites = recorded_sites();
    if (m_free_records.empty()) {
        return make_error("ftrace: ops '{}': no free ftrace_ops record (at most {})", ops.name,
                          (m_pool_end - m_pool) / int64_t(kOpsRecordSize));
    }
    KLP_TRY_ASSIGN(id, m_registry.add(std::move(ops), sites));
    const GuestAddr record = m_free_records.back();
    m_free_records.pop_back();
    m_records.emplace(id, record);
    m_machine.memory().store<uint64_t>(record + kOpsRecordId, uint64_t(id));
    KLP_TRY(update_tracer_call());
    KLP_TRY(update_sites());
    return id;
}

Result<void> Ftrace::unregister_ops(OpsId id) {
    KLP_TRY(m_registry.remove(id));
    const GuestAddr record = m_records.at(id);
    m_records.erase(id);
    KLP_TRY(update_sites());
    KLP_TRY(update_tracer_call());
    // The record stays callable (nothing points at it now), as ops are freed only after an
    // RCU-tasks grace period in the kernel.
    m_machine.memory().store<uint64_t>(record + kOpsRecordId, 0);
    m_free_records.push_back(record);
    return {};
}

Result<size_t> Ftrace::add_ops_filter(OpsId id, const FtraceFilter& filter) {
    KLP_TRY_ASSIGN(matched, m_registry.add_filter(id, filter, recorded_sites()));
    if (matched == 0) {
        return size_t(0);
    }
    KLP_TRY(update_sites());
    return matched;
}

size_t Ftrace::remove_ops_filter(OpsId id, const FtraceFilter& filter) {
    return m_registry.remove_filter(id, filter, recorded_sites());
}

Result<void> Ftrace::update_sites() {
    for (CallSite& site : m_sites) {
        KLP_TRY(update_site(site));
    }
    return {};
}

Result<void> Ftrace::enable(std::string_view filter, TracerKind tracer) {
    return m_tracers->enable(filter, tracer);
}

Result<void> Ftrace::disable(std::string_view filter) {
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

CallSiteState Ftrace::site_state(std::string_view function) const {
    for (const CallSite& site : m_sites) {
        if (site.site.function == function) {
            return site.state;
        }
    }
    return CallSiteState::Compiled;
}

void Ftrace::add_finding(std::string kind, Severity severity, GuestAddr pc, std::optional<int> cpu,
                         int task, std::string message) {
    m_machine.report(std::move(kind), severity, pc, cpu, task, std::move(message));
}

// ---- the trampoline's host calls ---------------------------------------------------------------

void Ftrace::on_ops_call(emu::HostCallContext& ctx) {
    const GuestAddr ip(ctx.arg(0));
    const GuestAddr parent(ctx.arg(1));
    const GuestAddr ops(ctx.arg(2));
    const GuestAddr regs_base(ctx.arg(3));
    auto site_it = m_site_by_ip.find(ip);
    if (site_it == m_site_by_ip.end()) {
        return; // Not a call site ftrace knows: nothing to run (the kernel would not get here).
    }
    const CallSite& site = m_sites[site_it->second];
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
        FtraceCall call{ctx, ip, parent, function, regs};
        func(call);
    }
    if (regs.lr_changed() || regs.pc_changed()) {
        auto& frames = m_frames[ctx.task().id];
        if (!frames.empty()) {
            if (regs.lr_changed()) {
                frames.back().new_lr = regs.lr();
            }
            if (regs.pc_changed()) {
                frames.back().new_pc = regs.pc();
            }
        }
    }
}

const GraphReturnStack& Ftrace::graph_return_stack(int task) {
    return m_graph_tracer->return_stack(task);
}

// ---- per-step checks ---------------------------------------------------------------------------

void Ftrace::on_instruction(const emu::InsnEvent& ev) {
    m_poke.on_instruction(ev.cpu, ev.pc, ev.word, ev.instruction);
    flush_poke_findings();
    const bool probe = ev.pc == m_trampoline || ev.pc == m_trampoline_ret ||
                       ev.pc == m_return_to_handler || ev.pc == m_return_to_handler_ret;
    if (probe && m_options.check_abi) {
        // A hook delivered twice for one instruction (a stop and restart at this PC) must not
        // push or pop twice.
        auto& last = m_last_probe[ev.task];
        if (last.first == ev.pc && last.second == ev.instruction) {
            return;
        }
        last = {ev.pc, ev.instruction};
        if (ev.pc == m_trampoline) {
            m_frames[ev.task].push_back(TrampolineFrame{m_machine.cpu_state(ev.cpu), {}, {}});
        } else if (ev.pc == m_trampoline_ret) {
            check_trampoline_exit(ev);
        } else if (ev.pc == m_return_to_handler) {
            m_graph_entries[ev.task].push_back(m_machine.cpu_state(ev.cpu));
        } else if (ev.pc == m_return_to_handler_ret) {
            check_graph_exit(ev);
        }
    }
    if (a64::brk_imm(ev.word) && m_site_by_word.contains(ev.pc) &&
        m_brk_reported.insert(ev.pc).second) {
        add_finding("brk-at-callsite", Severity::Fatal, ev.pc, ev.cpu, ev.task,
                    fmt::format("about to execute {} at an ftrace call site: a failed patch",
                                m_poke.describe(ev.pc, ev.word)));
    }
}

void Ftrace::check_trampoline_exit(const emu::InsnEvent& ev) {
    auto& frames = m_frames[ev.task];
    if (frames.empty()) {
        return;
    }
    const TrampolineFrame frame = frames.back();
    frames.pop_back();
    const emu::CpuState now = m_machine.cpu_state(ev.cpu);
    const emu::CpuState& in = frame.entry;
    std::vector<std::string> diffs;
    auto expect = [&](std::string_view what, uint64_t got, uint64_t want) {
        if (got != want) {
            diffs.push_back(fmt::format("{} {:#x} (expected {:#x})", what, got, want));
        }
    };
    for (int r = 0; r <= 8; ++r) {
        expect(fmt::format("x{}", r), now.x[size_t(r)], in.x[size_t(r)]);
    }
    for (int r = 18; r <= 29; ++r) {
        expect(fmt::format("x{}", r), now.x[size_t(r)], in.x[size_t(r)]);
    }
    expect("sp", now.sp, in.sp);
    expect("return address x30", now.x[30], frame.new_lr.value_or(GuestAddr(in.x[9])).value);
    expect("target x9", now.x[9], frame.new_pc.value_or(GuestAddr(in.x[30])).value);
    if (!diffs.empty()) {
        add_finding("abi-clobber", Severity::Error, ev.pc, ev.cpu, ev.task,
                    fmt::format("{} returns to {} with {}", m_layout.entry,
                                m_machine.symbolize(GuestAddr(in.x[30])).str(),
                                fmt::join(diffs, ", ")));
    }
}

void Ftrace::check_graph_exit(const emu::InsnEvent& ev) {
    auto& entries = m_graph_entries[ev.task];
    if (entries.empty()) {
        return;
    }
    const emu::CpuState in = entries.back();
    entries.pop_back();
    const emu::CpuState now = m_machine.cpu_state(ev.cpu);
    std::vector<std::string> diffs;
    for (int r = 0; r <= 7; ++r) {
        if (now.x[size_t(r)] != in.x[size_t(r)]) {
            diffs.push_back(
                fmt::format("x{} {:#x} (expected {:#x})", r, now.x[size_t(r)], in.x[size_t(r)]));
        }
    }
    for (int r = 18; r <= 29; ++r) {
        if (now.x[size_t(r)] != in.x[size_t(r)]) {
            diffs.push_back(
                fmt::format("x{} {:#x} (expected {:#x})", r, now.x[size_t(r)], in.x[size_t(r)]));
        }
    }
    if (now.sp != in.sp) {
        diffs.push_back(fmt::format("sp {:#x} (expected {:#x})", now.sp, in.sp));
    }
    if (!diffs.empty()) {
        add_finding("abi-clobber", Severity::Error, ev.pc, ev.cpu, ev.task,
                    fmt::format("return_to_handler returns with {}", fmt::join(diffs, ", ")));
    }
}

void Ftrace::on_memory_write(int cpu, GuestAddr pc, GuestAddr addr, int /*size*/) {
    const int task_id = m_machine.current_task(cpu);
    const emu::Task& task = m_machine.task(task_id);
    if (!task.stack.contains(addr)) {
        return;
    }
    uint64_t sp = m_machine.cpu_state(cpu).sp;
    if (auto word = m_text->read_word(pc); word.ok()) {
        sp = sp_after_pre_indexed_store(*word, sp).value_or(sp);
    }
    if (addr.value >= sp || !m_reported.insert(pc).second) {
        return;
    }
    add_finding("store-below-sp", Severity::Error, pc, cpu, task_id,
                fmt::format("store to sp-{:#x} on {}'s kernel stack: an exception taken here "
                            "would overwrite it",
                            sp - addr.value, task.name));
}

void Ftrace::on_exception_entry(int cpu, int /*task*/, emu::ExceptionKind kind, GuestAddr) {
    if (kind == emu::ExceptionKind::Irq) {
        m_poke.on_context_sync(cpu);
    }
}

void Ftrace::on_exception_return(int cpu, int /*task*/, emu::ExceptionKind kind, GuestAddr) {
    if (kind == emu::ExceptionKind::Irq) {
        m_poke.on_context_sync(cpu);
    }
}

} // namespace klpemu::patcher
