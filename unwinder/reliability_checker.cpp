// See reliability_checker.h.
#include "unwinder/reliability_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace klpemu::unwinder {

namespace {

constexpr size_t kFactSlots = 1 << 14; // Direct-mapped per-address facts.
constexpr size_t kChangeLog = 64;      // Recent stack changes per task.
constexpr size_t kMaxMemo = 4096;      // Memoised walks per task and view.

struct WalkKey {
    uint64_t pc, sp, fp, lr;
    bool operator==(const WalkKey&) const = default;
};

struct WalkKeyHash {
    size_t operator()(const WalkKey& k) const {
        uint64_t h = k.pc * 0x9e3779b97f4a7c15ull;
        h ^= (k.sp + (h << 6) + (h >> 2)) * 0xbf58476d1ce4e5b9ull;
        h ^= (k.fp + (h << 6) + (h >> 2)) * 0x94d049bb133111ebull;
        h ^= k.lr + (h << 6) + (h >> 2);
        return size_t(h ^ (h >> 31));
    }
};

enum class Outcome : uint8_t { Correct, Unreliable, Unsound };

// Guest memory as a walk reads it: every read of the task stack is recorded; a read anywhere
// else marks the walk as not reusable.
class RecordingMemory final : public MemoryReader {
  public:
    RecordingMemory(const MemoryReader& inner, GuestRange stack, std::vector<GuestAddr>& reads,
                    bool& outside)
        : m_inner(inner), m_stack(stack), m_reads(reads), m_outside(outside) {}
    std::optional<uint64_t> read_u64(GuestAddr addr) const override {
        if (addr >= m_stack.begin && addr.value + 8 <= m_stack.end.value) {
            m_reads.push_back(addr);
        } else {
            m_outside = true;
        }
        return m_inner.read_u64(addr);
    }

  private:
    const MemoryReader& m_inner;
    GuestRange m_stack;
    std::vector<GuestAddr>& m_reads;
    bool& m_outside;
};

} // namespace

// Facts about the instruction at one address, kept while the word there is unchanged.
struct ReliabilityChecker::AddrFacts {
    GuestAddr pc{~0ull};
    InsnWord word;
    BranchClass cls;
    std::vector<PolicyStats>* slot = nullptr; // Per-function statistics, on first check.
    bool in_pc_ranges = true;
    // The memoised walk last used at this pc, per view (a hint: checked against task, key and
    // the task's memo generation before use).
    struct Hint {
        const void* task = nullptr;
        uint64_t memo_generation = 0;
        WalkKey key{};
        MemoEntry* entry = nullptr;
    };
    std::array<Hint, 2> hints{};
};

// Every policy's walk of one view at one (pc, sp, fp, lr), with the task-stack addresses the
// walks read and their last comparison with the truth.
struct ReliabilityChecker::MemoEntry {
    uint64_t epoch = 0;   // The task's change epoch when this was last known valid.
    bool reusable = true; // False: a walk read memory outside the task stack.
    std::vector<GuestAddr> reads;
    uint64_t lo = 0, hi = 0; // Bounds of `reads` (hi exclusive).
    std::vector<GraphReturnEntry> graph; // The graph return stack the walks saw.
    std::vector<UnwindResult> results;   // Per policy.
    std::vector<Outcome> outcomes;       // Per policy, valid for truth_generation.
    uint64_t truth_generation = ~0ull;
    uint64_t reported = 0; // Policies whose unsound trace was reported here (pc is in the key).
};

struct ReliabilityChecker::TaskState {
    int id = -1;
    TaskContext context;
    GroundTruth truth;
    bool selected = true;
    // Store tracking: the task stack as the checker last saw it, and where it changed since.
    GuestRange stack;
    std::vector<uint8_t> shadow;
    uint64_t change_epoch = 0;
    std::array<std::pair<uint64_t, uint64_t>, kChangeLog> changes{}; // [lo, hi) per epoch.
    uint64_t resync_epoch = 0;
    // Memoised walks per view: 0 = interrupted, 1 = blocked.
    std::array<std::unordered_map<WalkKey, MemoEntry, WalkKeyHash>, 2> memo;
    uint64_t memo_generation = 1; // Bumped whenever a memo is cleared (entries freed).

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
    KLP_CHECK(m_policies.size() <= 64, "at most 64 policies, {} given", m_policies.size());
    m_stats.resize(m_policies.size());
    m_facts.resize(kFactSlots);
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
    for (AddrFacts& f : m_facts) {
        f = AddrFacts{};
    }
    for (auto& [id, t] : m_tasks) {
        t->truth.set_return_to_handler(m_return_to_handler);
        for (size_t v = 0; v < 2; ++v) {
            t->memo[v].clear();
        }
        ++t->memo_generation;
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
    if (!t->context.stacks.empty()) {
        t->stack = t->context.stacks.front().range;
        t->shadow.assign(size_t(t->stack.end - t->stack.begin), 0);
        resync(*t);
    }
    t->resync_epoch = m_resync_epoch;
    if (auto old = m_tasks.find(id); old != m_tasks.end()) {
        std::erase_if(m_stacks, [&](const auto& kv) { return kv.second == old->second.get(); });
    }
    m_last_task = nullptr;
    if (!t->shadow.empty()) {
        m_stacks[t->stack.begin.value] = t.get();
    }
    m_tasks[id] = std::move(t);
}

ReliabilityChecker::TaskState* ReliabilityChecker::task_state(int id) {
    if (m_last_task != nullptr && m_last_task->id == id) {
        return m_last_task;
    }
    auto it = m_tasks.find(id);
    if (it == m_tasks.end()) {
        return nullptr;
    }
    m_last_task = it->second.get();
    return m_last_task;
}

ReliabilityChecker::AddrFacts& ReliabilityChecker::facts(GuestAddr pc, InsnWord word) {
    AddrFacts& f = m_facts[(pc.value >> 2) & (kFactSlots - 1)];
    if (f.pc != pc || f.word != word) {
        f = AddrFacts{};
        f.pc = pc;
        f.word = word;
        f.cls = classify(pc, word);
        f.in_pc_ranges = m_config.pc_ranges.empty() ||
                         std::any_of(m_config.pc_ranges.begin(), m_config.pc_ranges.end(),
                                     [&](const GuestRange& r) { return r.contains(pc); });
    }
    return f;
}

const GroundTruth* ReliabilityChecker::truth(int task) const {
    auto it = m_tasks.find(task);
    return it == m_tasks.end() ? nullptr : &it->second->truth;
}

// ---- store tracking ----
//
// A walk's result depends on the registers (its key) and the task-stack words it read. The
// checker keeps a shadow copy of every task stack; at each store it computes the bytes the store
// may write from the encoding and the base register, and at the storing CPU's next boundary (the
// store has executed) compares them with the shadow. Only bytes that really changed are logged
// as a change of the task's stack; a memoised walk that read none of them stays valid. Stores
// whose address is not decoded, and host work, make every task compare its whole stack.

void ReliabilityChecker::record_change(TaskState& t, uint64_t lo, uint64_t hi) {
    ++t.change_epoch;
    t.changes[t.change_epoch % kChangeLog] = {lo, hi};
}

void ReliabilityChecker::resync(TaskState& t) {
    const uint8_t* p = m_memory.host_bytes(t.stack.begin, t.shadow.size());
    const size_t n = t.shadow.size();
    std::vector<uint8_t> now(n, 0);
    if (p != nullptr) {
        std::memcpy(now.data(), p, n);
    } else {
        for (size_t off = 0; off + 8 <= n; off += 8) {
            const uint64_t v = m_memory.read_u64(t.stack.begin + int64_t(off)).value_or(0);
            std::memcpy(now.data() + off, &v, 8);
        }
    }
    size_t lo = 0;
    while (lo < n && now[lo] == t.shadow[lo]) {
        ++lo;
    }
    if (lo == n) {
        return;
    }
    size_t hi = n;
    while (hi > lo && now[hi - 1] == t.shadow[hi - 1]) {
        --hi;
    }
    t.shadow = std::move(now);
    record_change(t, t.stack.begin.value + lo, t.stack.begin.value + hi);
}

void ReliabilityChecker::compare_range(GuestAddr addr, uint64_t size) {
    auto it = m_stacks.upper_bound(addr.value + size - 1);
    if (it == m_stacks.begin()) {
        return;
    }
    --it;
    TaskState& t = *it->second;
    const uint64_t lo = std::max(addr.value, t.stack.begin.value);
    const uint64_t hi = std::min(addr.value + size, t.stack.end.value);
    if (lo >= hi) {
        return;
    }
    uint8_t* shadow = t.shadow.data() + (lo - t.stack.begin.value);
    const uint8_t* p = m_memory.host_bytes(GuestAddr(lo), hi - lo);
    if (p == nullptr) {
        record_change(t, lo, hi); // Not readable as bytes: assume it changed.
        return;
    }
    if (std::memcmp(shadow, p, hi - lo) != 0) {
        std::memcpy(shadow, p, hi - lo);
        record_change(t, lo, hi);
    }
}

void ReliabilityChecker::compare_pending(int cpu) {
    for (size_t c = 0; c < m_pending.size(); ++c) {
        PendingStore& p = m_pending[c];
        if (!p.active) {
            continue;
        }
        compare_range(p.addr, p.size);
        // Another CPU's store may not have executed yet (its CPU stopped before it): keep it.
        if (int(c) == cpu) {
            p.active = false;
        }
    }
}

void ReliabilityChecker::note_store(const Boundary& b, const BranchClass& cls) {
    const StoreAccess& s = cls.store;
    if (s.mode == StoreMode::None || m_config.full_walk) {
        return;
    }
    if (s.mode == StoreMode::Unknown) {
        ++m_resync_epoch;
        return;
    }
    uint64_t addr = b.regs->x(s.rn); // 31 = sp.
    if (s.mode == StoreMode::Offset) {
        addr += uint64_t(s.imm);
    } else if (s.mode == StoreMode::RegOffset) {
        uint64_t index = s.rm == 31 ? 0 : b.regs->x(s.rm);
        switch (s.option) {
        case 2: index = uint32_t(index); break;
        case 6: index = uint64_t(int64_t(int32_t(uint32_t(index)))); break;
        default: break;
        }
        addr += index << s.shift;
    }
    if (size_t(b.cpu) >= m_pending.size()) {
        m_pending.resize(size_t(b.cpu) + 1);
    }
    m_pending[size_t(b.cpu)] = PendingStore{true, GuestAddr(addr), s.size};
}

const BranchClass& ReliabilityChecker::on_instruction(const Boundary& b) {
    if (!m_config.full_walk) {
        compare_pending(b.cpu);
    }
    AddrFacts& f = facts(b.pc, b.word);
    const BranchClass& cls = f.cls;
    TaskState* t = task_state(b.task);
    if (t == nullptr) {
        note_store(b, cls);
        return cls;
    }
    if (t->selected && f.in_pc_ranges) {
        const Registers regs{b.pc, GuestAddr(b.regs->x(30)), GuestAddr(b.regs->x(29)),
                             GuestAddr(b.regs->x(31))};
        if (m_config.check_interrupted && t->truth.exception_depth() == 0 && !cls.is_eret) {
            check_view(*t, b, f, StopKind::Interrupted, regs);
        }
        if (m_config.check_blocked && cls.kind == BranchKind::Call) {
            const GuestAddr target = cls.target ? *cls.target : GuestAddr(b.regs->x(cls.rn));
            if (std::find(m_sleep_entries.begin(), m_sleep_entries.end(), target) !=
                m_sleep_entries.end()) {
                check_view(*t, b, f, StopKind::Blocked,
                           Registers{b.pc + 4, regs.lr, regs.fp, regs.sp});
            }
        }
    }
    const size_t before = t->truth.mismatches().size();
    t->truth.on_instruction(b.pc, cls, *b.regs);
    report_mismatches(*t, before, b.cpu, b.instruction);
    note_store(b, cls);
    return cls;
}

void ReliabilityChecker::on_exception_entry(int task, GuestAddr elr) {
    if (TaskState* t = task_state(task)) {
        t->truth.on_exception_entry(elr);
    }
}

void ReliabilityChecker::on_exception_return(int task, GuestAddr pc, GuestAddr target) {
    if (TaskState* t = task_state(task)) {
        const size_t before = t->truth.mismatches().size();
        t->truth.on_exception_return(pc, target);
        report_mismatches(*t, before, std::nullopt, 0);
    }
}

void ReliabilityChecker::on_host_work(int /*task*/) {
    ++m_resync_epoch; // The host may write any task's stack.
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

bool ReliabilityChecker::still_valid(TaskState& t, MemoEntry& e) const {
    if (!e.reusable) {
        return false;
    }
    if (t.context.graph != nullptr) {
        const auto now = t.context.graph->entries();
        if (!std::equal(now.begin(), now.end(), e.graph.begin(), e.graph.end(),
                        [](const GraphReturnEntry& a, const GraphReturnEntry& b) {
                            return a.ret == b.ret && a.retp == b.retp && a.func == b.func;
                        })) {
            return false;
        }
    }
    if (e.epoch == t.change_epoch) {
        return true;
    }
    if (t.change_epoch - e.epoch >= kChangeLog) {
        return false; // Too many changes since: the log no longer reaches back.
    }
    for (uint64_t ep = e.epoch + 1; ep <= t.change_epoch; ++ep) {
        const auto [lo, hi] = t.changes[ep % kChangeLog];
        if (hi <= e.lo || lo >= e.hi) {
            continue;
        }
        for (GuestAddr r : e.reads) {
            if (r.value < hi && r.value + 8 > lo) {
                return false;
            }
        }
    }
    e.epoch = t.change_epoch;
    return true;
}

ReliabilityChecker::MemoEntry& ReliabilityChecker::walk_all(TaskState& t, AddrFacts& f,
                                                           StopKind kind, const Registers& regs) {
    const size_t v = size_t(view_index(kind));
    const WalkKey key{regs.pc.value, regs.sp.value, regs.fp.value, regs.lr.value};
    auto& memo = t.memo[v];
    if (memo.size() >= kMaxMemo) {
        memo.clear();
        ++t.memo_generation;
    }
    AddrFacts::Hint& hint = f.hints[v];
    MemoEntry* e = nullptr;
    if (hint.entry != nullptr && hint.task == &t && hint.memo_generation == t.memo_generation &&
        hint.key == key) {
        e = hint.entry;
    } else {
        e = &memo[key];
        hint = AddrFacts::Hint{&t, t.memo_generation, key, e};
    }
    if (!e->results.empty() && still_valid(t, *e)) {
        return *e;
    }

    // Walk every policy, recording the task-stack words they read.
    e->reads.clear();
    bool outside = t.shadow.empty();
    RecordingMemory memory(m_memory, t.stack, e->reads, outside);
    StackView view =
        kind == StopKind::Interrupted
            ? StackView::interrupted(regs, memory, t.context.stacks, t.context.pt_regs)
            : StackView::blocked(regs, memory, t.context.stacks, t.context.pt_regs);
    view.graph = t.context.graph;
    view.return_to_handler = m_return_to_handler;
    view.cfi = m_cfi;
    view.bottom_return_addresses = m_bottom_returns;
    e->results.resize(m_policies.size());
    for (size_t i = 0; i < m_policies.size(); ++i) {
        e->results[i] = m_policies[i]->unwind(view);
        ++m_walks;
    }
    e->reusable = !outside;
    e->epoch = t.change_epoch;
    e->lo = ~0ull;
    e->hi = 0;
    for (GuestAddr r : e->reads) {
        e->lo = std::min(e->lo, r.value);
        e->hi = std::max(e->hi, r.value + 8);
    }
    e->graph.clear();
    if (t.context.graph != nullptr) {
        const auto g = t.context.graph->entries();
        e->graph.assign(g.begin(), g.end());
    }
    e->truth_generation = ~0ull;
    return *e;
}

void ReliabilityChecker::check_view(TaskState& t, const Boundary& b, AddrFacts& f, StopKind kind,
                                    const Registers& regs) {
    if (f.slot == nullptr) {
        f.slot = &function_slot(b.pc);
    }
    std::vector<PolicyStats>& fn = *f.slot;
    if (!t.truth.complete()) {
        for (size_t i = 0; i < m_policies.size(); ++i) {
            ++m_stats[i].skipped;
            ++fn[i].skipped;
        }
        return;
    }
    if (m_config.full_walk) {
        check_view_from_scratch(t, b, fn, kind, regs);
        return;
    }
    if (t.resync_epoch != m_resync_epoch) {
        t.resync_epoch = m_resync_epoch;
        if (!t.shadow.empty()) {
            resync(t);
        }
    }
    MemoEntry& e = walk_all(t, f, kind, regs);
    bool have_truth = false;
    if (e.truth_generation != t.truth.generation()) {
        t.truth.return_addresses(regs.pc, m_truth_scratch);
        have_truth = true;
        e.outcomes.resize(m_policies.size());
        for (size_t i = 0; i < m_policies.size(); ++i) {
            const UnwindResult& r = e.results[i];
            e.outcomes[i] = !r.reliable                              ? Outcome::Unreliable
                            : r.return_addresses == m_truth_scratch ? Outcome::Correct
                                                                    : Outcome::Unsound;
        }
        e.truth_generation = t.truth.generation();
    }
    for (size_t i = 0; i < m_policies.size(); ++i) {
        ++m_stats[i].checked;
        ++fn[i].checked;
        switch (e.outcomes[i]) {
        case Outcome::Unreliable:
            ++m_stats[i].unreliable;
            ++fn[i].unreliable;
            break;
        case Outcome::Correct:
            ++m_stats[i].reliable_correct;
            ++fn[i].reliable_correct;
            break;
        case Outcome::Unsound:
            ++m_stats[i].unsound;
            ++fn[i].unsound;
            if ((e.reported & (1ull << i)) != 0) {
                break; // Already reported (or dropped at max_findings) at this pc and view.
            }
            if (!have_truth) {
                t.truth.return_addresses(regs.pc, m_truth_scratch);
                have_truth = true;
            }
            report_unsound(t, b, kind, i, e.results[i]);
            e.reported |= 1ull << i;
            break;
        }
    }
}

// The reference: every policy walks guest memory as it is now, the verdict is computed again.
void ReliabilityChecker::check_view_from_scratch(TaskState& t, const Boundary& b,
                                                 std::vector<PolicyStats>& fn, StopKind kind,
                                                 const Registers& regs) {
    StackView view =
        kind == StopKind::Interrupted
            ? StackView::interrupted(regs, m_memory, t.context.stacks, t.context.pt_regs)
            : StackView::blocked(regs, m_memory, t.context.stacks, t.context.pt_regs);
    view.graph = t.context.graph;
    view.return_to_handler = m_return_to_handler;
    view.cfi = m_cfi;
    view.bottom_return_addresses = m_bottom_returns;
    t.truth.return_addresses(regs.pc, m_truth_scratch);
    for (size_t i = 0; i < m_policies.size(); ++i) {
        const UnwindResult r = m_policies[i]->unwind(view);
        ++m_walks;
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
