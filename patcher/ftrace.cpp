// arm64 ftrace for klpemu: trampoline installation, call-site bookkeeping, ops dispatch from
// the trampoline's host call, the function and function-graph tracers, and the per-step checks
// of ftrace's invariants (see ftrace.h; reference §1, §2, §3, §9).
#include "patcher/ftrace.h"

#include "emu/insn_encoding.h"
#include "patcher/ftrace_callsite.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace klpemu::patcher {

std::string_view embedded_guest_source(std::string_view file_name);

namespace {

// Two NOPs, as the compiler leaves the CALL_OPS literal before ftrace_init_nop sets it.
constexpr uint64_t kLiteralNops = 0xd503201fd503201fULL;
// Offset of the host id in a guest ftrace_ops record { func, id } (ftrace_support.S).
constexpr int64_t kOpsRecordId = 8;
constexpr uint64_t kOpsRecordSize = 16;
// Where return_to_handler saved the x29 it returned with (ftrace_support.S).
constexpr int64_t kGraphFregsFp = 80;

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

uint64_t FtraceRegs::arg(int n) const {
    if (n < 0 || n >= kFtraceArgRegs) {
        return 0;
    }
    return load(uint32_t(8 * n));
}

void FtraceRegs::set_lr(GuestAddr a) {
    m_memory.store<uint64_t>(m_base + int64_t(m_layout.lr), a.value);
    m_lr_changed = true;
}

void FtraceRegs::set_pc(GuestAddr a) {
    m_memory.store<uint64_t>(m_base + int64_t(m_layout.pc), a.value);
    m_pc_changed = true;
}

Result<TracerKind> parse_tracer_kind(std::string_view name) {
    if (name == "function") {
        return TracerKind::Function;
    }
    if (name == "graph" || name == "function_graph") {
        return TracerKind::Graph;
    }
    return make_error("unknown tracer '{}' (expected function or graph)", name);
}

Ftrace::Ftrace(emu::Machine& machine, const FtraceOptions& options)
    : m_machine(machine), m_options(options), m_layout(trampoline_layout(options.variant)),
      m_text(std::make_unique<MachineText>(machine)),
      m_poke(*m_text, machine.symbols(), machine.cpu_count()) {}

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
    m_machine.register_host_call(hc::kFtraceOps,
                                 [this](emu::HostCallContext& ctx) { on_ops_call(ctx); });
    m_machine.register_host_call(hc::kGraphReturn,
                                 [this](emu::HostCallContext& ctx) { on_graph_return(ctx); });
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
        for (auto& [id, entry] : m_ops) {
            if (!entry.ops.function_addr && !entry.ops.filter.empty() &&
                entry.ops.filter.matches(ps.function)) {
                entry.functions.insert(ps.function);
            }
        }
    }
    for (CallSite& site : m_sites) {
        if (own.contains(site.site.rec_ip)) {
            KLP_TRY(update_site(site));
        }
    }
    return {};
}

void Ftrace::remove_sites(GuestRange range) {
    std::erase_if(m_sites, [&](const CallSite& s) { return range.contains(s.site.rec_ip); });
    m_site_by_ip.clear();
    m_site_by_word.clear();
    for (size_t i = 0; i < m_sites.size(); ++i) {
        m_site_by_ip.emplace(m_sites[i].site.rec_ip, i);
        m_site_by_word.emplace(m_sites[i].site.rec_ip, i);
        m_site_by_word.emplace(m_sites[i].site.first_nop, i);
    }
}

bool Ftrace::covers(const OpsEntry& entry, const CallSite& site) {
    return entry.ops.function_addr ? site.site.function_addr == *entry.ops.function_addr
                                   : entry.functions.contains(site.site.function);
}

std::vector<OpsId> Ftrace::ops_for(const CallSite& site) const {
    std::vector<OpsId> out;
    for (const auto& [id, entry] : m_ops) {
        if (covers(entry, site)) {
            out.push_back(id);
        }
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
    const std::vector<OpsId> ops = ops_for(site);
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
    const uint64_t want_literal =
        ops.size() == 1 ? m_ops.at(ops[0]).record.value : m_list_ops.value;
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
    const bool want = !m_ops.empty();
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

Result<OpsId> Ftrace::register_ops(FtraceOps ops) {
    OpsEntry entry;
    for (const CallSite& site : m_sites) {
        if (ops.function_addr ? site.site.function_addr == *ops.function_addr
                              : ops.filter.matches(site.site.function)) {
            entry.functions.insert(site.site.function);
            for (const auto& [other_id, other] : m_ops) {
                if (ops.ipmodify && other.ops.ipmodify && covers(other, site)) {
                    return make_error("ftrace: ops '{}': {} already has the IPMODIFY ops '{}' "
                                      "(-EBUSY)",
                                      ops.name, site.site.function, other.ops.name);
                }
            }
        }
    }
    if (entry.functions.empty()) {
        return make_error("ftrace: ops '{}': filter '{}' matches no traceable function", ops.name,
                          fmt::join(ops.filter.globs(), " "));
    }
    if (m_free_records.empty()) {
        return make_error("ftrace: ops '{}': no free ftrace_ops record (at most {})", ops.name,
                          (m_pool_end - m_pool) / int64_t(kOpsRecordSize));
    }
    const OpsId id = m_next_ops++;
    entry.record = m_free_records.back();
    m_free_records.pop_back();
    m_machine.memory().store<uint64_t>(entry.record + kOpsRecordId, uint64_t(id));
    entry.ops = std::move(ops);
    m_ops.emplace(id, std::move(entry));
    KLP_TRY(update_tracer_call());
    for (CallSite& site : m_sites) {
        KLP_TRY(update_site(site));
    }
    return id;
}

Result<void> Ftrace::unregister_ops(OpsId id) {
    auto it = m_ops.find(id);
    if (it == m_ops.end()) {
        return make_error("ftrace: no ops with id {}", id);
    }
    const GuestAddr record = it->second.record;
    m_ops.erase(it);
    for (auto b = m_builtin.begin(); b != m_builtin.end();) {
        b = b->second == id ? m_builtin.erase(b) : std::next(b);
    }
    for (CallSite& site : m_sites) {
        KLP_TRY(update_site(site));
    }
    KLP_TRY(update_tracer_call());
    // The record stays callable (nothing points at it now), as ops are freed only after an
    // RCU-tasks grace period in the kernel.
    m_machine.memory().store<uint64_t>(record + kOpsRecordId, 0);
    m_free_records.push_back(record);
    return {};
}

Result<void> Ftrace::enable(std::string_view filter_text, TracerKind tracer) {
    const FtraceFilter filter(filter_text);
    auto builtin = m_builtin.find(tracer);
    if (builtin == m_builtin.end()) {
        FtraceOps ops;
        ops.name = tracer == TracerKind::Function ? "function" : "function_graph";
        ops.filter = filter;
        if (tracer == TracerKind::Function) {
            ops.func = [this](FtraceCall& call) { function_tracer(call); };
        } else {
            ops.func = [this](FtraceCall& call) { graph_tracer(call); };
        }
        auto id = register_ops(std::move(ops));
        if (!id.ok()) {
            return id.error();
        }
        m_builtin.emplace(tracer, *id);
        m_ops.at(*id).builtin = true;
        m_ops.at(*id).tracer = tracer;
        return {};
    }
    OpsEntry& entry = m_ops.at(builtin->second);
    if (!entry.ops.filter.empty()) {
        // Remember the filter for modules loaded later (ftrace_module_enable).
        entry.ops.filter = FtraceFilter(fmt::format("{} {}", fmt::join(entry.ops.filter.globs(), " "),
                                                    filter_text));
    }
    size_t added = 0;
    for (const CallSite& site : m_sites) {
        if (filter.matches(site.site.function)) {
            added += entry.functions.insert(site.site.function).second ? 1 : 0;
        }
    }
    if (added == 0 && !std::any_of(m_sites.begin(), m_sites.end(), [&](const CallSite& s) {
            return filter.matches(s.site.function);
        })) {
        return make_error("ftrace: filter '{}' matches no traceable function", filter_text);
    }
    for (CallSite& site : m_sites) {
        KLP_TRY(update_site(site));
    }
    return {};
}

Result<void> Ftrace::disable(std::string_view filter_text) {
    const FtraceFilter filter(filter_text);
    size_t removed = 0;
    std::vector<OpsId> emptied;
    for (auto& [tracer, id] : m_builtin) {
        OpsEntry& entry = m_ops.at(id);
        removed +=
            std::erase_if(entry.functions, [&](const std::string& f) { return filter.matches(f); });
        if (entry.functions.empty()) {
            emptied.push_back(id);
        }
    }
    if (removed == 0) {
        return make_error("ftrace: filter '{}' matches no traced function", filter_text);
    }
    for (OpsId id : emptied) {
        KLP_TRY(unregister_ops(id));
    }
    for (CallSite& site : m_sites) {
        KLP_TRY(update_site(site));
    }
    return {};
}

Result<void> Ftrace::apply_action(bool enable_sites, std::string_view filter,
                                  std::string_view tracer) {
    if (!enable_sites) {
        return disable(filter);
    }
    auto kind = parse_tracer_kind(tracer.empty() ? "function" : tracer);
    if (!kind.ok()) {
        return kind.error();
    }
    return enable(filter, *kind);
}

void Ftrace::add_trace(std::string line) {
    m_trace.push_back(std::move(line));
    m_trace_instructions.push_back(m_machine.instructions());
}

std::vector<Ftrace::Event> Ftrace::take_events() {
    std::vector<Event> out;
    const auto& log = m_poke.log();
    size_t p = m_log_taken;
    size_t t = m_trace_taken;
    while (p < log.size() || t < m_trace.size()) {
        const bool patch_first = t == m_trace.size() ||
                                 (p < log.size() && log[p].instruction <= m_trace_instructions[t]);
        if (patch_first) {
            out.push_back(Event{Event::Kind::Patch, log[p].line, log[p].instruction});
            ++p;
        } else {
            out.push_back(Event{Event::Kind::Trace, m_trace[t], m_trace_instructions[t]});
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
        ids = ops_for(site); // ftrace_ops_list_func: every ops whose hash has this ip.
    } else if (ops >= m_pool && ops < m_pool_end) {
        const auto id = OpsId(m_machine.memory().load<uint64_t>(ops + kOpsRecordId));
        auto it = m_ops.find(id);
        if (it != m_ops.end() && covers(it->second, site)) {
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
        auto it = m_ops.find(id);
        if (it == m_ops.end()) {
            continue; // Unregistered by an earlier callback of this call.
        }
        FtraceFunc func = it->second.ops.func;
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

void Ftrace::function_tracer(FtraceCall& call) {
    const emu::Task& task = call.host.task();
    add_trace(fmt::format("{}-{} [{:03}] {} <-{}", task.name, task.id, call.host.cpu(),
                          call.function, m_machine.symbolize(call.parent_ip).base));
}

void Ftrace::graph_tracer(FtraceCall& call) {
    const emu::Task& task = call.host.task();
    auto& stack = m_graph[task.id];
    const size_t depth = stack.size();
    stack.push_back(GraphFrame{std::string(call.function), call.regs.lr(), call.regs.fp(),
                               m_machine.cpu_cycles(call.host.cpu())});
    const auto func = m_machine.symbols().lookup(call.function);
    auto& unwind_view = graph_stack_of(task.id).stack;
    unwind_view.push_back(GraphReturnEntry{call.regs.lr(), GuestAddr(call.regs.fp()),
                                           func ? func->addr : call.ip});
    call.regs.set_lr(m_return_to_handler);
    add_trace(fmt::format("{:>2}) {:>12} | {:{}}{}() {{", call.host.cpu(), "", "", 2 * depth,
                          call.function));
}

Ftrace::TaskGraphStack& Ftrace::graph_stack_of(int task) {
    auto& slot = m_graph_stacks[task];
    if (!slot) {
        slot = std::make_unique<TaskGraphStack>(m_return_to_handler);
    }
    return *slot;
}

const GraphReturnStack& Ftrace::graph_return_stack(int task) {
    return graph_stack_of(task);
}

void Ftrace::on_graph_return(emu::HostCallContext& ctx) {
    const GuestAddr fregs(ctx.arg(0));
    const uint64_t fp = m_machine.memory().load<uint64_t>(fregs + kGraphFregsFp);
    auto& stack = m_graph[ctx.task().id];
    if (stack.empty()) {
        add_finding("fgraph-mismatch", Severity::Fatal, ctx.pc(), ctx.cpu(), ctx.task().id,
                    "return_to_handler reached with an empty graph return stack");
        m_machine.request_stop();
        return;
    }
    const GraphFrame frame = stack.back();
    stack.pop_back();
    if (auto& entries = graph_stack_of(ctx.task().id).stack; !entries.empty()) {
        entries.pop_back();
    }
    if (fp != frame.fp) {
        add_finding("fgraph-mismatch", Severity::Error, ctx.pc(), ctx.cpu(), ctx.task().id,
                    fmt::format("Bad frame pointer: expected {:#x}, received {:#x} from func {} "
                                "return to {}",
                                frame.fp, fp, frame.function,
                                m_machine.symbolize(frame.ret).str()));
    }
    ctx.set_result(frame.ret.value);
    const uint64_t cycles = m_machine.cpu_cycles(ctx.cpu()) - frame.start_cycles;
    add_trace(fmt::format("{:>2}) {:>6} cycles | {:{}}}} /* {} */", ctx.cpu(), cycles, "",
                          2 * stack.size(), frame.function));
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
