// See reliability_checker.h.
#include "unwinder/reliability_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace klpemu::unwinder {

namespace {

constexpr size_t kFactSlots = 1 << 14; // Direct-mapped per-address facts.
constexpr size_t kFastSets = 1 << 8;   // Per task and view: counted_fast's table, 2 ways each.

// Guest memory as a walk reads it: every read of the task stack is recorded; a read anywhere
// else marks the walk as not reusable.
class RecordingMemory final : public MemoryReader {
  public:
    RecordingMemory(const MemoryReader& inner, GuestRange stack, MemoizedWalk& walk)
        : m_inner(inner), m_stack(stack), m_walk(walk) {}
    std::optional<uint64_t> read_u64(GuestAddr addr) const override {
        const std::optional<uint64_t> v = m_inner.read_u64(addr);
        if (v && addr >= m_stack.begin && addr.value + 8 <= m_stack.end.value) {
            m_walk.reads.push_back(addr);
            m_walk.values.push_back(*v);
        } else {
            ++m_outside;
        }
        return v;
    }
    // Reads so far that were not of the task stack.
    const uint64_t& outside_reads() const { return m_outside; }

  private:
    const MemoryReader& m_inner;
    GuestRange m_stack;
    MemoizedWalk& m_walk;
    mutable uint64_t m_outside = 0;
};

int view_index(StopKind k) {
    return k == StopKind::Interrupted ? 0 : 1;
}

const char* view_name(StopKind k) {
    return k == StopKind::Interrupted ? "interrupted" : "blocked";
}

} // namespace

// Facts about the instruction at one address, kept while the word there is unchanged.
struct ReliabilityChecker::AddrFacts {
    uint32_t generation = 0; // m_facts_generation when filled; any other value: empty.
    GuestAddr pc{~0ull};
    InsnWord word;
    BranchClass cls;
    std::vector<PolicyStats>* stats_row = nullptr; // Per-function statistics, on first check.
    bool in_pc_ranges = true;
    std::array<WalkMemo::Hints, 2> hints{}; // The memoised walks last used here, per view.
    std::array<std::optional<uint64_t>, 2> walk_class; // Per view, once computed.
    // Per view: policies whose unsound trace was reported here (or dropped at max_findings).
    std::array<uint64_t, 2> reported{};
};

struct ReliabilityChecker::TaskState {
    int id = -1;
    TaskContext context;
    GroundTruth truth;
    bool selected = true;
    StackShadow* stack = nullptr; // The task stack as the store tracker last saw it.
    // Memoised walks per view: 0 = interrupted, 1 = blocked.
    std::array<WalkMemo, 2> walks{WalkMemo(kWalksPerView), WalkMemo(kWalksPerView)};
    // Per view, sets of two indexed by pc: the walk the last check with exactly (pc, sp, x29,
    // x30) used (counted_fast). Two ways: a pc reached with two stacks in turn (leaf() called
    // twice from mid()) keeps both. kFastSets sets each, made on the first check.
    struct FastEntry {
        uint64_t pc = ~0ull, sp = 0, fp = 0, lr = 0;
        WalkMemo::Hint hint;
        bool matches(const Registers& r) const {
            return pc == r.pc.value && sp == r.sp.value && fp == r.fp.value && lr == r.lr.value;
        }
    };
    struct FastSet {
        std::array<FastEntry, 2> way;
        uint8_t next = 0; // The way a new key takes.
        FastEntry* find(const Registers& r) {
            return way[0].matches(r) ? &way[0] : way[1].matches(r) ? &way[1] : nullptr;
        }
    };
    std::array<std::vector<FastSet>, 2> fast;
    static size_t fast_set(GuestAddr pc) { return size_t(pc.value >> 2) & (kFastSets - 1); }

    TaskState(FunctionEntries& entries, std::optional<GuestAddr> rth) : truth(entries, rth) {}
};

ReliabilityChecker::ReliabilityChecker(CheckerConfig config, const MemoryReader& memory,
                                       const SymbolTable& symbols, const CfiTable* cfi)
    : m_config(std::move(config)), m_memory(memory), m_symbols(symbols), m_cfi(cfi),
      m_entries(symbols), m_stores(memory) {
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
    m_stats = std::make_unique<CheckStatistics>(symbols, policies());
    m_facts.resize(kFactSlots);
    resolve_symbols();
}

ReliabilityChecker::~ReliabilityChecker() = default;

void ReliabilityChecker::refresh_symbols() {
    m_sleep_entries.clear();
    m_bottom_returns.clear();
    m_return_to_handler.reset();
    m_entries.invalidate();
    m_stats->forget_pcs();
    resolve_symbols();
    // Every slot is forgotten at once: 16,384 slots are rewritten lazily, on their next use,
    // instead of here (a livepatch scenario refreshes at every module it loads).
    ++m_facts_generation;
    KLP_CHECK(m_facts_generation != 0, "unwinder: fact generations wrapped");
    m_chains.clear();
    for (auto& [id, task] : m_tasks) {
        task->truth.set_return_to_handler(m_return_to_handler);
        count_all_pending(*task); // Before the walks holding them go.
        for (WalkMemo& memo : task->walks) {
            memo.clear();
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
    auto task = std::make_unique<TaskState>(m_entries, m_return_to_handler);
    task->id = id;
    task->selected = m_config.tasks.empty() ||
                     std::find(m_config.tasks.begin(), m_config.tasks.end(), context.name) !=
                         m_config.tasks.end();
    if (!context.truth_from_start) {
        task->truth.mark_incomplete();
    }
    task->context = std::move(context);
    if (auto old = m_tasks.find(id); old != m_tasks.end()) {
        count_all_pending(*old->second); // Before its walks go.
        if (old->second->stack != nullptr) {
            m_stores.untrack(old->second->stack);
        }
        m_chains.clear(); // Its rests were keyed by the id (rare: a task registered again).
    }
    if (!task->context.stacks.empty() && !m_config.full_walk) {
        task->stack = m_stores.track(task->context.stacks.front().range);
    }
    m_last_task = nullptr;
    m_tasks[id] = std::move(task);
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
    AddrFacts& facts = m_facts[(pc.value >> 2) & (kFactSlots - 1)];
    if (facts.pc != pc || facts.word != word || facts.generation != m_facts_generation) {
        facts = AddrFacts{};
        facts.generation = m_facts_generation;
        facts.pc = pc;
        facts.word = word;
        facts.cls = classify(pc, word);
        facts.in_pc_ranges = m_config.pc_ranges.empty() ||
                             std::any_of(m_config.pc_ranges.begin(), m_config.pc_ranges.end(),
                                         [&](const GuestRange& r) { return r.contains(pc); });
    }
    return facts;
}

const GroundTruth* ReliabilityChecker::truth(int task) const {
    auto it = m_tasks.find(task);
    return it == m_tasks.end() ? nullptr : &it->second->truth;
}

const BranchClass& ReliabilityChecker::on_instruction(const Boundary& b) {
    if (!m_config.full_walk) {
        m_stores.store_executed(b.cpu);
    }
    AddrFacts& here = facts(b.pc, b.word);
    const BranchClass& cls = here.cls;
    TaskState* task = task_state(b.task);
    if (task != nullptr && task->selected && here.in_pc_ranges) {
        const Registers regs = b.frame != nullptr
                                   ? Registers{b.pc, GuestAddr(b.frame->lr), GuestAddr(b.frame->fp),
                                               GuestAddr(b.frame->sp)}
                                   : Registers{b.pc, GuestAddr(b.regs->x(30)),
                                               GuestAddr(b.regs->x(29)), GuestAddr(b.regs->x(31))};
        MemoizedWalk* found = nullptr;
        if (m_config.check_interrupted && task->truth.exception_depth() == 0 && !cls.is_eret &&
            !counted_fast(*task, here, StopKind::Interrupted, regs, found)) {
            check_view(*task, b, here, StopKind::Interrupted, regs, found);
        }
        if (m_config.check_blocked && cls.kind == BranchKind::Call) {
            const GuestAddr target = cls.target ? *cls.target : GuestAddr(b.regs->x(cls.rn));
            if (std::find(m_sleep_entries.begin(), m_sleep_entries.end(), target) !=
                m_sleep_entries.end()) {
                check_view(*task, b, here, StopKind::Blocked,
                           Registers{b.pc + 4, regs.lr, regs.fp, regs.sp});
            }
        }
    }
    if (task != nullptr) {
        if (cls.kind != BranchKind::None) {
            const size_t before = task->truth.mismatches().size();
            task->truth.on_instruction(b.pc, cls, *b.regs);
            if (task->truth.mismatches().size() != before) {
                report_mismatches(*task, before, b.cpu, b.instruction);
            }
        }
    }
    if (!m_config.full_walk && cls.store.mode != StoreMode::None) {
        m_stores.note_store(b.cpu, cls, *b.regs);
    }
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
    m_stores.host_work(); // The host may write any task's stack.
}

StackView ReliabilityChecker::make_view(const TaskState& task, StopKind kind, const Registers& regs,
                                        const MemoryReader& memory) const {
    StackView view =
        kind == StopKind::Interrupted
            ? StackView::interrupted(regs, memory, task.context.stacks, task.context.pt_regs)
            : StackView::blocked(regs, memory, task.context.stacks, task.context.pt_regs);
    view.graph = task.context.graph;
    view.return_to_handler = m_return_to_handler;
    view.cfi = m_cfi;
    view.bottom_return_addresses = m_bottom_returns;
    return view;
}

bool ReliabilityChecker::unchanged_since_valid(const TaskState& task, const MemoizedWalk& walk) {
    return walk.walked && walk.reusable && task.context.graph == nullptr &&
           walk.stack_changes == task.stack->change_count;
}

bool ReliabilityChecker::still_valid(const TaskState& task, MemoizedWalk& walk) const {
    if (!walk.reusable) {
        return false;
    }
    if (task.context.graph != nullptr) {
        const auto now = task.context.graph->entries();
        if (!std::equal(now.begin(), now.end(), walk.graph.begin(), walk.graph.end(),
                        [](const GraphReturnEntry& a, const GraphReturnEntry& b) {
                            return a.ret == b.ret && a.retp == b.retp && a.func == b.func;
                        })) {
            return false;
        }
    }
    if (!StackStoreTracker::unchanged_since(*task.stack, walk.stack_changes, walk.reads, walk.lo,
                                            walk.hi)) {
        // Words it read were written since: the walk still holds if they hold the values it
        // saw (a frame record rewritten with the same contents, a slot reused and restored).
        if (!StackStoreTracker::still_holds(m_memory, *task.stack, walk.reads, walk.values)) {
            return false;
        }
    }
    walk.stack_changes = task.stack->change_count;
    return true;
}

// Which pcs share memoised walks (UnwindPolicy::pc_class). The low two bits keep the kinds of
// class apart (pcs and classes are 4-aligned): 0b10 every policy walks alike at any pc; 0b01
// one policy (always the same one) depends on pc, by its class; 0b00 the exact pc, when
// policies disagree about which pcs are alike.
uint64_t ReliabilityChecker::walk_class(GuestAddr pc, StopKind kind) {
    constexpr uint64_t kAnyPc = 0b10;
    const PcFacts pc_facts{m_return_to_handler, m_cfi};
    int dependent = -1;
    GuestAddr cls;
    for (size_t i = 0; i < m_policies.size(); ++i) {
        if (const std::optional<GuestAddr> c = m_policies[i]->pc_class(pc, kind, pc_facts)) {
            KLP_CHECK(c->is_aligned(4), "{}: pc class {} is not 4-aligned", m_policies[i]->name(),
                      *c);
            if (dependent >= 0) {
                return pc.value;
            }
            dependent = int(i);
            cls = *c;
        }
    }
    if (dependent < 0) {
        return kAnyPc;
    }
    if (m_sole_class_policy < 0) {
        m_sole_class_policy = dependent;
    }
    return dependent == m_sole_class_policy ? cls.value | 0b01 : pc.value;
}

MemoizedWalk& ReliabilityChecker::memoized_walk(TaskState& task, AddrFacts& facts, StopKind kind,
                                                const Registers& regs, MemoizedWalk* found) {
    const size_t v = size_t(view_index(kind));
    if (!facts.walk_class[v]) {
        facts.walk_class[v] = walk_class(regs.pc, kind);
    }
    const WalkKey key{*facts.walk_class[v], regs.sp.value, regs.fp.value, regs.lr.value};
    MemoizedWalk& walk =
        found != nullptr ? *found : task.walks[v].find_or_insert(key, facts.hints[v]);
    if (unchanged_since_valid(task, walk)) {
        return walk;
    }
    if (walk.walked && still_valid(task, walk)) {
        return walk;
    }

    // Walk every policy, recording the task-stack words they read; each policy takes the rest
    // of its walk from the frame-chain memo where it can (one known stack, no graph entries).
    walk.reads.clear();
    walk.values.clear();
    const GuestRange range = task.stack != nullptr ? task.stack->range : GuestRange{};
    RecordingMemory memory(m_memory, range, walk);
    StackView view = make_view(task, kind, regs, memory);
    view.detailed_reasons = false; // Neither memo keeps a reason for the checker.
    const bool chained = task.stack != nullptr && task.context.stacks.size() == 1 &&
                         (task.context.graph == nullptr || task.context.graph->entries().empty());
    walk.traces.resize(m_policies.size());
    bool complete_reads = true;
    for (size_t i = 0; i < m_policies.size(); ++i) {
        std::optional<ChainWalk> chain;
        if (chained) {
            chain.emplace(m_chains, ChainMemo::Key{task.id, uint32_t(i), {}}, *task.stack, m_memory,
                          walk.reads, walk.values, memory.outside_reads(), m_chain_scratch);
            view.chain = &*chain;
        }
        // The slot's old trace buffer is reused: no allocation once the slots have grown.
        UnwindResult& r = m_unwind_scratch;
        r.return_addresses.swap(walk.traces[i].return_addresses);
        m_policies[i]->unwind_into(view, r);
        walk.traces[i].reliable = r.reliable;
        walk.traces[i].return_addresses.swap(r.return_addresses);
        ++m_walks;
        m_chain_hits += chain ? chain->hits() : 0;
        complete_reads = complete_reads && (!chain || chain->reads_complete());
    }
    const bool outside = task.stack == nullptr || memory.outside_reads() != 0 || !complete_reads;
    // Other pcs of the class reuse the traces with their own pc first (check_view); a trace that
    // does not start with this pc cannot be shared that way.
    const bool starts_at_pc =
        std::all_of(walk.traces.begin(), walk.traces.end(), [&](const MemoizedTrace& t) {
            return t.return_addresses.empty() || t.return_addresses.front() == regs.pc;
        });
    walk.walked = true;
    walk.pc = regs.pc;
    walk.reusable = !outside && starts_at_pc;
    walk.stack_changes = task.stack != nullptr ? task.stack->change_count : 0;
    walk.lo = ~0ull;
    walk.hi = 0;
    for (GuestAddr r : walk.reads) {
        walk.lo = std::min(walk.lo, r.value);
        walk.hi = std::max(walk.hi, r.value + 8);
    }
    walk.graph.clear();
    if (task.context.graph != nullptr) {
        const auto g = task.context.graph->entries();
        walk.graph.assign(g.begin(), g.end());
    }
    walk.truth_content = ~0ull;
    return walk;
}

// The fast path: this task's view was checked at this pc with these registers before (so the
// same key), that walk is still held, nothing it read has been written, its verdicts are for
// this shadow stack, its pending count is for this pc's row and nothing is left to report
// here: check_view would only count. Mirrors memoized_walk's reuse without a check (its first
// test) and check_view's bookkeeping; each condition has its own test
// (unwind_checker_test.cpp, "checker fast path").
bool ReliabilityChecker::counted_fast(TaskState& task, AddrFacts& facts, StopKind kind,
                                      const Registers& regs, MemoizedWalk*& found) {
    found = nullptr;
    const size_t v = size_t(view_index(kind));
    if (task.fast[v].empty()) {
        return false; // Filled by check_view, which the full walk never reaches.
    }
    const TaskState::FastEntry* entry = task.fast[v][TaskState::fast_set(regs.pc)].find(regs);
    std::vector<PolicyStats>* row = facts.stats_row;
    if (entry == nullptr || row == nullptr || task.stack == nullptr || !task.truth.complete()) {
        return false;
    }
    m_stores.bring_up_to_date(*task.stack);
    MemoizedWalk* w = task.walks[v].held(entry->hint);
    found = w;
    if (w == nullptr || !unchanged_since_valid(task, *w) ||
        w->truth_content != task.truth.content_id() || w->pending_row != row ||
        (w->unsound & ~facts.reported[v]) != 0) {
        return false;
    }
    ++w->pending;
    return true;
}

void ReliabilityChecker::check_view(TaskState& task, const Boundary& b, AddrFacts& facts,
                                    StopKind kind, const Registers& regs, MemoizedWalk* found) {
    if (facts.stats_row == nullptr) {
        facts.stats_row = &m_stats->function_row(b.pc);
    }
    std::vector<PolicyStats>& row = *facts.stats_row;
    if (!task.truth.complete()) {
        m_stats->count_skipped(row);
        return;
    }
    if (m_config.full_walk) {
        check_view_from_scratch(task, b, row, kind, regs);
        return;
    }
    if (task.stack != nullptr) {
        m_stores.bring_up_to_date(*task.stack);
    }
    const size_t v = size_t(view_index(kind));
    std::vector<TaskState::FastSet>& fast = task.fast[v];
    if (fast.empty()) {
        fast.resize(kFastSets);
    }
    MemoizedWalk& walk = memoized_walk(task, facts, kind, regs, found);
    if (found == nullptr) { // Else the entry already names this walk.
        TaskState::FastSet& set = fast[TaskState::fast_set(regs.pc)];
        TaskState::FastEntry* entry = set.find(regs);
        if (entry == nullptr) {
            entry = &set.way[std::exchange(set.next, uint8_t(set.next ^ 1))];
        }
        *entry = TaskState::FastEntry{regs.pc.value, regs.sp.value, regs.fp.value, regs.lr.value,
                                      task.walks[v].last_hint()};
    }
    bool have_truth = false;
    if (walk.truth_content != task.truth.content_id()) {
        // New verdicts (a new walk, a re-walk, or another shadow stack): the boundaries counted
        // with the old ones are counted now. A fresh slot still holds its evicted walk's.
        count_pending(walk);
        walk.outcomes.resize(m_policies.size());
        walk.unsound = 0;
        for (size_t i = 0; i < m_policies.size(); ++i) {
            const MemoizedTrace& trace = walk.traces[i];
            walk.outcomes[i] = !trace.reliable ? Outcome::Unreliable
                               : same_as_truth(trace.return_addresses, walk.pc, task.truth)
                                   ? Outcome::Correct
                                   : Outcome::Unsound;
            if (walk.outcomes[i] == Outcome::Unsound) {
                walk.unsound |= 1ull << i;
            }
        }
        walk.truth_content = task.truth.content_id();
    }
    // Counting is deferred: one increment here, the per-policy counts when the verdicts or the
    // row change or someone reads the statistics (count_pending).
    // A walk serves every pc of its class, which may lie in another function: its deferred
    // count moves to the new row only after being counted into the old one.
    if (walk.pending != 0 && walk.pending_row != &row) {
        count_pending(walk); // Another function's pc of the same class.
    }
    walk.pending_row = &row;
    ++walk.pending;
    // Reports are per pc and view (the walk may serve other pcs of its class).
    uint64_t& reported = facts.reported[size_t(view_index(kind))];
    if ((walk.unsound & ~reported) != 0) [[unlikely]] {
        for (size_t i = 0; i < m_policies.size(); ++i) {
            const uint64_t bit = 1ull << i;
            if ((walk.unsound & bit) == 0 || (reported & bit) != 0) {
                continue; // Sound, or already reported (or dropped at max_findings) here.
            }
            if (!have_truth) {
                task.truth.return_addresses(regs.pc, m_truth_scratch);
                have_truth = true;
            }
            // The memoised trace, walked at another pc of the class, with this pc first.
            m_trace_scratch = walk.traces[i].return_addresses;
            if (!m_trace_scratch.empty() && m_trace_scratch.front() == walk.pc) {
                m_trace_scratch.front() = regs.pc;
            }
            report_unsound(task, b, kind, i, m_trace_scratch);
            reported |= bit;
        }
    }
}

bool ReliabilityChecker::same_as_truth(const std::vector<GuestAddr>& trace, GuestAddr walked_pc,
                                       const GroundTruth& truth) {
    // The truth's list is [pc, innermost return address, ..., outermost]: compared in place,
    // not built (a 400-frame stack would copy 400 entries at every boundary).
    const std::span<const ShadowFrame> frames = truth.frames();
    if (trace.size() != frames.size() + 1) {
        return false;
    }
    // A trace walked at another pc of the class starts with that pc; here it would start with
    // this one, which the truth starts with.
    if (trace.front() != walked_pc) {
        return false;
    }
    for (size_t i = 1; i < trace.size(); ++i) {
        if (trace[i] != frames[frames.size() - i].return_address) {
            return false;
        }
    }
    return true;
}

void ReliabilityChecker::count_pending(MemoizedWalk& walk) const {
    if (walk.pending == 0) {
        return;
    }
    std::vector<PolicyStats>& row = *walk.pending_row;
    for (size_t i = 0; i < walk.outcomes.size(); ++i) {
        switch (walk.outcomes[i]) {
        case Outcome::Unreliable:
            m_stats->count_unreliable(row, i, walk.pending);
            break;
        case Outcome::Correct:
            m_stats->count_correct(row, i, walk.pending);
            break;
        case Outcome::Unsound:
            m_stats->count_unsound(row, i, walk.pending);
            break;
        }
    }
    walk.pending = 0;
}

void ReliabilityChecker::count_all_pending() const {
    for (const auto& [id, task] : m_tasks) {
        count_all_pending(*task);
    }
}

void ReliabilityChecker::count_all_pending(TaskState& task) const {
    for (WalkMemo& memo : task.walks) {
        memo.for_each([this](MemoizedWalk& w) { count_pending(w); });
    }
}

// The reference: every policy walks guest memory as it is now, the verdict is computed again.
void ReliabilityChecker::check_view_from_scratch(TaskState& task, const Boundary& b,
                                                 std::vector<PolicyStats>& row, StopKind kind,
                                                 const Registers& regs) {
    const StackView view = make_view(task, kind, regs, m_memory);
    task.truth.return_addresses(regs.pc, m_truth_scratch);
    for (size_t i = 0; i < m_policies.size(); ++i) {
        UnwindResult& r = m_unwind_scratch;
        m_policies[i]->unwind_into(view, r);
        ++m_walks;
        if (!r.reliable) {
            m_stats->count_unreliable(row, i);
        } else if (r.return_addresses == m_truth_scratch) {
            m_stats->count_correct(row, i);
        } else {
            m_stats->count_unsound(row, i);
            report_unsound(task, b, kind, i, r.return_addresses);
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

void ReliabilityChecker::report_unsound(const TaskState& task, const Boundary& b, StopKind kind,
                                        size_t policy_index, const std::vector<GuestAddr>& trace) {
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
    f.task = task.context.name;
    f.instruction = b.instruction;
    f.message =
        fmt::format("unwinder: {}: reliable trace {} ({}); trace: {}; truth: {}", policy.name(),
                    first_difference(trace, m_truth_scratch, m_symbols), view_name(kind),
                    symbolize_list(trace), symbolize_list(m_truth_scratch));
    m_findings.push_back(std::move(f));
    m_finding_sources.push_back({std::string(policy.name()), view_name(kind)});
}

void ReliabilityChecker::report_mismatches(const TaskState& task, size_t before,
                                           std::optional<int> cpu, uint64_t instruction) {
    const auto& all = task.truth.mismatches();
    for (size_t i = before; i < all.size() && m_findings.size() < m_config.max_findings; ++i) {
        const TruthMismatch& m = all[i];
        Finding f;
        f.kind = "shadow-stack-mismatch";
        f.severity = Severity::Warning;
        f.where = m_symbols.symbolize(m.pc).str();
        f.pc = m.pc;
        f.cpu = cpu;
        f.task = task.context.name;
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
    count_all_pending();
    for (size_t i = 0; i < m_policies.size(); ++i) {
        if (m_policies[i]->name() == policy) {
            return m_stats->total(i);
        }
    }
    KLP_UNREACHABLE("policy '{}' is not checked", policy);
}

std::map<std::string, std::map<std::string, PolicyStats>>
ReliabilityChecker::function_stats() const {
    count_all_pending();
    return m_stats->per_function();
}

std::string ReliabilityChecker::summary() const {
    count_all_pending();
    return m_stats->summary();
}

} // namespace klpemu::unwinder
