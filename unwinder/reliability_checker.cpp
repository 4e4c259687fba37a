// See reliability_checker.h.
#include "unwinder/reliability_checker.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::unwinder {

// A policy's last walk for one view of one task, reused while its inputs are unchanged.
struct ReliabilityChecker::CachedWalk {
    bool valid = false;
    GuestAddr pc, fp, sp, lr;
    uint64_t memory_generation = 0;
    UnwindResult result;
};

struct ReliabilityChecker::TaskState {
    int id = -1;
    TaskContext context;
    GroundTruth truth;
    bool selected = true;
    uint64_t memory_generation = 0; // Bumped when the task (or the host for it) may have written.
    // [policy][view]: 0 = interrupted, 1 = blocked.
    std::vector<std::array<CachedWalk, 2>> walks;

    TaskState(FunctionEntries& entries, std::optional<GuestAddr> rth) : truth(entries, rth) {}
};

namespace {

int view_index(StopKind k) {
    return k == StopKind::Interrupted ? 0 : 1;
}

const char* view_name(StopKind k) {
    return k == StopKind::Interrupted ? "interrupted" : "blocked";
}

// Return addresses of every BL/BLR inside function `name` (Torsten's kthread-bottom symbol,
// generalised to every call the bottom functions make).
void collect_call_returns(const SymbolTable& symbols, const MemoryReader& memory,
                          std::string_view name, std::vector<GuestAddr>& out) {
    const std::optional<Symbol> f = symbols.lookup(name);
    if (!f) {
        return;
    }
    for (uint64_t off = 0; off + 4 <= f->size; off += 4) {
        const GuestAddr pc = f->addr + int64_t(off);
        std::optional<uint64_t> v = memory.read_u64(pc);
        if (!v) {
            continue;
        }
        const BranchClass c = classify(pc, InsnWord(uint32_t(*v)));
        if (c.kind == BranchKind::Call) {
            out.push_back(pc + 4);
        }
    }
}

} // namespace

ReliabilityChecker::ReliabilityChecker(CheckerConfig config, const MemoryReader& memory,
                                       const SymbolTable& symbols, const CfiTable* cfi)
    : m_config(std::move(config)), m_memory(memory), m_symbols(symbols), m_cfi(cfi),
      m_entries(symbols) {
    std::vector<std::string> names = m_config.policies;
    if (names.empty()) {
        for (std::string_view n : policy_names()) {
            names.emplace_back(n);
        }
    }
    for (const std::string& n : names) {
        std::unique_ptr<UnwindPolicy> p = make_policy(n);
        KLP_CHECK(p != nullptr, "unknown unwinder policy '{}'", n);
        m_policies.push_back(std::move(p));
    }
    m_stats.resize(m_policies.size());
    resolve_symbols();
}

ReliabilityChecker::~ReliabilityChecker() = default;

void ReliabilityChecker::refresh_symbols() {
    m_sleep_entries.clear();
    m_bottom_returns.clear();
    m_return_to_handler.reset();
    m_entries.invalidate();
    m_function_slots.clear();
    resolve_symbols();
    for (auto& [id, t] : m_tasks) {
        t->truth.set_return_to_handler(m_return_to_handler);
        for (auto& walks : t->walks) {
            walks[0].valid = false;
            walks[1].valid = false;
        }
    }
}

void ReliabilityChecker::resolve_symbols() {
    for (const std::string& n : m_config.sleep_functions) {
        if (auto s = m_symbols.lookup(n)) {
            m_sleep_entries.push_back(s->addr);
        }
    }
    for (const std::string& n : m_config.bottom_functions) {
        collect_call_returns(m_symbols, m_memory, n, m_bottom_returns);
    }
    if (auto s = m_symbols.lookup(m_config.return_to_handler)) {
        m_return_to_handler = s->addr;
    }
}

std::vector<std::string_view> ReliabilityChecker::policies() const {
    std::vector<std::string_view> out;
    for (const auto& p : m_policies) {
        out.push_back(p->name());
    }
    return out;
}

void ReliabilityChecker::add_task(int id, TaskContext context) {
    auto t = std::make_unique<TaskState>(m_entries, m_return_to_handler);
    t->id = id;
    t->selected = m_config.tasks.empty() || std::find(m_config.tasks.begin(), m_config.tasks.end(),
                                                      context.name) != m_config.tasks.end();
    if (!context.truth_from_start) {
        t->truth.mark_incomplete();
    }
    t->context = std::move(context);
    t->walks.resize(m_policies.size());
    m_tasks[id] = std::move(t);
}

ReliabilityChecker::TaskState* ReliabilityChecker::task_state(int id) {
    auto it = m_tasks.find(id);
    return it == m_tasks.end() ? nullptr : it->second.get();
}

const GroundTruth* ReliabilityChecker::truth(int task) const {
    auto it = m_tasks.find(task);
    return it == m_tasks.end() ? nullptr : &it->second->truth;
}

bool ReliabilityChecker::selected(const TaskState& t, GuestAddr pc) const {
    if (!t.selected) {
        return false;
    }
    if (m_config.pc_ranges.empty()) {
        return true;
    }
    return std::any_of(m_config.pc_ranges.begin(), m_config.pc_ranges.end(),
                       [&](const GuestRange& r) { return r.contains(pc); });
}

void ReliabilityChecker::on_instruction(const Boundary& b) {
    TaskState* t = task_state(b.task);
    if (t == nullptr) {
        return;
    }
    const BranchClass& cls = m_classes.get(b.pc, b.word);
    if (selected(*t, b.pc)) {
        const Registers regs{b.pc, GuestAddr(b.regs->x(30)), GuestAddr(b.regs->x(29)),
                             GuestAddr(b.regs->x(31))};
        if (m_config.check_interrupted && t->truth.exception_depth() == 0 && !cls.is_eret) {
            check_view(*t, b, StopKind::Interrupted, regs);
        }
        if (m_config.check_blocked && cls.kind == BranchKind::Call) {
            const GuestAddr target = cls.target ? *cls.target : GuestAddr(b.regs->x(cls.rn));
            if (std::find(m_sleep_entries.begin(), m_sleep_entries.end(), target) !=
                m_sleep_entries.end()) {
                check_view(*t, b, StopKind::Blocked,
                           Registers{b.pc + 4, regs.lr, regs.fp, regs.sp});
            }
        }
    }
    const size_t before = t->truth.mismatches().size();
    t->truth.on_instruction(b.pc, cls, *b.regs);
    report_mismatches(*t, before, b.cpu, b.instruction);
    if (cls.may_write_memory) {
        ++t->memory_generation;
    }
}

void ReliabilityChecker::on_exception_entry(int task, GuestAddr elr) {
    if (TaskState* t = task_state(task)) {
        t->truth.on_exception_entry(elr);
        ++t->memory_generation;
    }
}

void ReliabilityChecker::on_exception_return(int task, GuestAddr pc, GuestAddr target) {
    if (TaskState* t = task_state(task)) {
        const size_t before = t->truth.mismatches().size();
        t->truth.on_exception_return(pc, target);
        ++t->memory_generation;
        report_mismatches(*t, before, std::nullopt, 0);
    }
}

void ReliabilityChecker::on_host_work(int task) {
    if (TaskState* t = task_state(task)) {
        ++t->memory_generation;
    }
}

std::vector<PolicyStats>& ReliabilityChecker::function_slot(GuestAddr pc) {
    auto it = m_function_slots.find(pc);
    if (it != m_function_slots.end()) {
        return *it->second;
    }
    const Symbolized s = m_symbols.symbolize(pc);
    std::vector<PolicyStats>& slot = m_function_stats[s.base.empty() ? "?" : s.base];
    slot.resize(m_policies.size());
    m_function_slots.emplace(pc, &slot);
    return slot;
}

void ReliabilityChecker::check_view(TaskState& t, const Boundary& b, StopKind kind,
                                    const Registers& regs) {
    std::vector<PolicyStats>& fn = function_slot(b.pc);
    if (!t.truth.complete()) {
        for (size_t i = 0; i < m_policies.size(); ++i) {
            ++m_stats[i].skipped;
            ++fn[i].skipped;
        }
        return;
    }
    t.truth.return_addresses(regs.pc, m_truth_scratch);

    StackView view =
        kind == StopKind::Interrupted
            ? StackView::interrupted(regs, m_memory, t.context.stacks, t.context.pt_regs)
            : StackView::blocked(regs, m_memory, t.context.stacks, t.context.pt_regs);
    view.graph = t.context.graph;
    view.return_to_handler = m_return_to_handler;
    view.cfi = m_cfi;
    view.bottom_return_addresses = m_bottom_returns;

    for (size_t i = 0; i < m_policies.size(); ++i) {
        const UnwindPolicy& policy = *m_policies[i];
        CachedWalk& cache = t.walks[i][size_t(view_index(kind))];
        const bool reusable = m_config.reuse_walks && cache.valid && cache.fp == regs.fp &&
                              cache.sp == regs.sp && cache.lr == regs.lr &&
                              cache.memory_generation == t.memory_generation &&
                              (!policy.depends_on_pc() || cache.pc == regs.pc);
        if (!reusable) {
            cache.result = policy.unwind(view);
            cache.valid = true;
            cache.fp = regs.fp;
            cache.sp = regs.sp;
            cache.lr = regs.lr;
            cache.pc = regs.pc;
            cache.memory_generation = t.memory_generation;
        } else if (!cache.result.return_addresses.empty()) {
            cache.result.return_addresses[0] = regs.pc;
        }
        const UnwindResult& r = cache.result;
        ++m_stats[i].checked;
        ++fn[i].checked;
        if (!r.reliable) {
            ++m_stats[i].unreliable;
            ++fn[i].unreliable;
        } else if (r.return_addresses == m_truth_scratch) {
            ++m_stats[i].reliable_correct;
            ++fn[i].reliable_correct;
        } else {
            ++m_stats[i].unsound;
            ++fn[i].unsound;
            report_unsound(t, b, kind, i, r);
        }
    }
}

std::string ReliabilityChecker::symbolize_list(const std::vector<GuestAddr>& list) const {
    std::string out;
    for (size_t i = 0; i < list.size(); ++i) {
        out += (i == 0 ? "" : " <- ") + m_symbols.symbolize(list[i]).str();
    }
    return out;
}

namespace {

// What is wrong with `trace` against `truth`, objtool-style.
std::string first_difference(const std::vector<GuestAddr>& trace,
                             const std::vector<GuestAddr>& truth, const SymbolTable& symbols) {
    const size_t n = std::min(trace.size(), truth.size());
    for (size_t i = 0; i < n; ++i) {
        if (trace[i] == truth[i]) {
            continue;
        }
        const bool in_trace = std::find(trace.begin(), trace.end(), truth[i]) != trace.end();
        if (!in_trace) {
            return fmt::format("misses {}", symbols.symbolize(truth[i]).str());
        }
        const bool in_truth = std::find(truth.begin(), truth.end(), trace[i]) != truth.end();
        if (!in_truth) {
            return fmt::format("reports {}, which the task will not return to",
                               symbols.symbolize(trace[i]).str());
        }
        return fmt::format("misorders {}", symbols.symbolize(truth[i]).str());
    }
    if (trace.size() < truth.size()) {
        return fmt::format("misses {}", symbols.symbolize(truth[trace.size()]).str());
    }
    return fmt::format("reports {} past the end of the real stack",
                       symbols.symbolize(trace[truth.size()]).str());
}

} // namespace

void ReliabilityChecker::report_unsound(const TaskState& t, const Boundary& b, StopKind kind,
                                        size_t policy_index, const UnwindResult& r) {
    // pc is 4-aligned: its low two bits carry the view, the top byte (kernel addresses are
    // 0xffff...) the policy index.
    const uint64_t key = ((b.pc.value | uint64_t(view_index(kind))) & 0x00ffffffffffffffull) |
                         (uint64_t(policy_index) << 56);
    if (m_findings.size() >= m_config.max_findings || !m_reported.insert(key).second) {
        return;
    }
    const UnwindPolicy& policy = *m_policies[policy_index];
    Finding f;
    f.kind = "unsound-reliable-trace";
    f.severity = Severity::Error;
    f.where = m_symbols.symbolize(b.pc).str();
    f.pc = b.pc;
    f.cpu = b.cpu;
    f.task = t.context.name;
    f.instruction = b.instruction;
    f.message = fmt::format(
        "unwinder: {}: reliable trace {} ({}); trace: {}; truth: {}", policy.name(),
        first_difference(r.return_addresses, m_truth_scratch, m_symbols), view_name(kind),
        symbolize_list(r.return_addresses), symbolize_list(m_truth_scratch));
    m_findings.push_back(std::move(f));
    m_finding_sources.push_back({std::string(policy.name()), view_name(kind)});
}

void ReliabilityChecker::report_mismatches(const TaskState& t, size_t before,
                                           std::optional<int> cpu, uint64_t instruction) {
    const auto& all = t.truth.mismatches();
    for (size_t i = before; i < all.size() && m_findings.size() < m_config.max_findings; ++i) {
        const TruthMismatch& m = all[i];
        Finding f;
        f.kind = "shadow-stack-mismatch";
        f.severity = Severity::Warning;
        f.where = m_symbols.symbolize(m.pc).str();
        f.pc = m.pc;
        f.cpu = cpu;
        f.task = t.context.name;
        f.instruction = instruction;
        f.message = m.expected
                        ? fmt::format("unwinder: return to {} where the shadow stack expected {}",
                                      m_symbols.symbolize(m.actual).str(),
                                      m_symbols.symbolize(*m.expected).str())
                        : fmt::format("unwinder: return to {} with an empty shadow stack (the "
                                      "ground truth started late)",
                                      m_symbols.symbolize(m.actual).str());
        m_findings.push_back(std::move(f));
        m_finding_sources.emplace_back();
    }
}

const PolicyStats& ReliabilityChecker::stats(std::string_view policy) const {
    for (size_t i = 0; i < m_policies.size(); ++i) {
        if (m_policies[i]->name() == policy) {
            return m_stats[i];
        }
    }
    KLP_UNREACHABLE("policy '{}' is not checked", policy);
}

std::map<std::string, std::map<std::string, PolicyStats>>
ReliabilityChecker::function_stats() const {
    std::map<std::string, std::map<std::string, PolicyStats>> out;
    for (const auto& [fn, per_policy] : m_function_stats) {
        for (size_t i = 0; i < m_policies.size(); ++i) {
            out[fn][std::string(m_policies[i]->name())] = per_policy[i];
        }
    }
    return out;
}

std::string ReliabilityChecker::summary() const {
    std::string out = fmt::format("{:<10} {:>10} {:>10} {:>10} {:>8} {:>8}\n", "policy", "checked",
                                  "reliable", "unreliable", "unsound", "skipped");
    for (size_t i = 0; i < m_policies.size(); ++i) {
        const PolicyStats& s = m_stats[i];
        out += fmt::format("{:<10} {:>10} {:>10} {:>10} {:>8} {:>8}\n", m_policies[i]->name(),
                           s.checked, s.reliable_correct, s.unreliable, s.unsound, s.skipped);
    }
    return out;
}

} // namespace klpemu::unwinder
