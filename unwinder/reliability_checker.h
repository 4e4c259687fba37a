// The per-step reliability checker (design.md §5 "Checks at every step"): at every instruction
// boundary of the selected tasks it asks each unwinder policy for a trace as if the task had
// been stopped there, and compares it with the ground-truth shadow stack.
//
//   view         when                                 the policy starts from
//   -----------  -----------------------------------  --------------------------------------
//   interrupted  every boundary outside an exception  a virtual pt_regs at sp - 336 (nothing
//                                                     written), as an IRQ there would build
//   blocked      at a BL/BLR into a sleep function    pc = the call's return address, fp = x29
//                (schedule)                           (what thread_saved_pc/fp would give)
//
// A reliable trace that differs from the truth is a finding `unsound-reliable-trace` (PC,
// policy, both traces, symbolized); an unreliable answer where the truth was complete counts
// against the policy's precision. Statistics per policy and per function.
//
// The work is split by concern: the ground truth (ground_truth.h), which stack bytes changed
// (stack_store_tracker.h), memoised walks and verdicts (walk_memo.h), counting
// (check_statistics.h); this class decides what to check at a boundary and reports. Speed:
// docs/unwinder.md "How the check stays fast". Memory per task: the ground truth, one shadow copy
// of the task stack, and at most 2 x kWalksPerView memoised walks.
#pragma once

#include "emu/cfi_table.h"
#include "emu/cpu_state.h"
#include "emu/finding.h"
#include "emu/graph_return_stack.h"
#include "emu/symbol_table.h"
#include "unwinder/branch_class.h"
#include "unwinder/chain_memo.h"
#include "unwinder/check_statistics.h"
#include "unwinder/ground_truth.h"
#include "unwinder/stack_bottoms.h"
#include "unwinder/stack_store_tracker.h"
#include "unwinder/stack_view.h"
#include "unwinder/unwind_policy.h"
#include "unwinder/walk_memo.h"

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace klpemu::unwinder {

struct CheckerConfig {
    std::vector<std::string> policies; // Policy names; empty: all of policy_names().
    std::vector<std::string> tasks;    // Task names to check; empty: every task.
    std::vector<GuestRange> pc_ranges; // Check only boundaries with pc inside; empty: all.
    std::vector<std::string> sleep_functions{"schedule"};
    // Functions at the bottom of every task stack: seed-v4's "kthread bottom" return addresses
    // are the return addresses of their calls.
    std::vector<std::string> bottom_functions{kBottomFunctions.begin(), kBottomFunctions.end()};
    std::string return_to_handler = "return_to_handler"; // Symbol; absent: no graph tracer.
    bool check_interrupted = true;
    bool check_blocked = true;
    // Walk every policy from scratch at every checked boundary: no memoised walk, no reused
    // verdict, no store tracking. Slow; the reference the incremental checker is compared with
    // (`klpemu run --full-walk`, the unwind_differential ctest).
    bool full_walk = false;
    size_t max_findings = 1000;
};

// What the checker needs to know of one task.
struct TaskContext {
    std::string name;
    std::vector<KnownStack> stacks; // The task stack first.
    GuestAddr pt_regs;              // task_pt_regs.
    const GraphReturnStack* graph = nullptr;
    bool truth_from_start = true; // False: the checker attached after the task ran.
};

// One instruction boundary as the machine reports it.
struct Boundary {
    int task = -1;
    int cpu = 0;
    GuestAddr pc;
    InsnWord word;
    uint64_t instruction = 0; // The one clock.
    const RegisterReader* regs = nullptr;
    // sp/x29/x30 as `regs` would give them, when the caller has them at hand (saves three
    // virtual reads per boundary); null: read through `regs`.
    const emu::FrameRegs* frame = nullptr;
};

class ReliabilityChecker {
  public:
    // Memoised walks kept per task and view (walk_memo.h), least recently used evicted.
    static constexpr size_t kWalksPerView = 512;

    // `memory` and `symbols` must outlive the checker; `cfi` may be null (cfi then unreliable).
    ReliabilityChecker(CheckerConfig config, const MemoryReader& memory, const SymbolTable& symbols,
                       const CfiTable* cfi);
    ~ReliabilityChecker();

    // Looks up sleep/bottom functions and return_to_handler again and forgets per-address
    // facts: call after loading objects (modules, livepatches, ftrace's trampolines).
    void refresh_symbols();

    // Registers task `id` before it runs its first instruction (its truth starts empty).
    void add_task(int id, TaskContext context);

    // The instruction at b.pc is about to execute; returns its cached class (the caller may
    // cache registers while `writes_frame_regs()` is false).
    const BranchClass& on_instruction(const Boundary& b);
    void on_exception_entry(int task, GuestAddr elr);
    void on_exception_return(int task, GuestAddr pc, GuestAddr target);
    // The host did work for `task` that may have written guest memory (host call, task switch):
    // every task stack is compared with its shadow copy before its next check.
    void on_host_work(int task);

    // Policy walks actually run (the rest were reused), for tests and the benchmark.
    uint64_t walks() const { return m_walks; }
    // Policy walks that took their rest from the frame-chain memo (chain_memo.h).
    uint64_t chain_hits() const { return m_chain_hits; }

    const std::vector<Finding>& findings() const { return m_findings; }
    // The policy and view ("interrupted"/"blocked") behind findings()[i]; both empty for a
    // shadow-stack-mismatch, which belongs to no policy.
    struct FindingSource {
        std::string policy;
        std::string view;
    };
    const FindingSource& finding_source(size_t i) const { return m_finding_sources.at(i); }
    const PolicyStats& stats(std::string_view policy) const;
    // Per function (symbol name) and policy.
    std::map<std::string, std::map<std::string, PolicyStats>> function_stats() const;
    // The ground truth of a task, for tests and the stepper.
    const GroundTruth* truth(int task) const;
    // Where a kthread's last return address may point (seed-v4's bottom check).
    std::span<const GuestAddr> bottom_return_addresses() const { return m_bottom_returns; }
    // A deterministic text table of the statistics.
    std::string summary() const;
    std::vector<std::string_view> policies() const;
    const CheckerConfig& config() const { return m_config; }

  private:
    struct TaskState;
    struct AddrFacts;

    TaskState* task_state(int id);
    AddrFacts& facts(GuestAddr pc, InsnWord word);
    // True if the boundary was counted under a walk it used before (the fast path). Else
    // `found` is that walk if it is still held (check_view then needs no lookup), or null.
    bool counted_fast(TaskState& task, AddrFacts& facts, StopKind kind, const Registers& regs,
                      MemoizedWalk*& found);
    // `found`: the walk of this key, if counted_fast found it.
    [[gnu::noinline]] void check_view(TaskState& task, const Boundary& b, AddrFacts& facts,
                                      StopKind kind, const Registers& regs,
                                      MemoizedWalk* found = nullptr);
    void check_view_from_scratch(TaskState& task, const Boundary& b, std::vector<PolicyStats>& row,
                                 StopKind kind, const Registers& regs);
    uint64_t walk_class(GuestAddr pc, StopKind kind);
    MemoizedWalk& memoized_walk(TaskState& task, AddrFacts& facts, StopKind kind,
                                const Registers& regs, MemoizedWalk* found);
    // A walk that may be reused at once: nothing logged on its stack since it was last known
    // valid, no memory outside it read, no graph return stack (still_valid's first test).
    static bool unchanged_since_valid(const TaskState& task, const MemoizedWalk& walk);
    bool still_valid(const TaskState& task, MemoizedWalk& walk) const;
    // `trace`, walked at `walked_pc`, equals the truth's list once its first entry is this
    // boundary's pc.
    static bool same_as_truth(const std::vector<GuestAddr>& trace, GuestAddr walked_pc,
                              const GroundTruth& truth);
    // Deferred statistics (MemoizedWalk::pending) counted into their row and the totals. Const:
    // statistics readers call it; the counts live behind pointers.
    void count_pending(MemoizedWalk& walk) const;
    void count_all_pending(TaskState& task) const;
    void count_all_pending() const;
    StackView make_view(const TaskState& task, StopKind kind, const Registers& regs,
                        const MemoryReader& memory) const;
    void report_unsound(const TaskState& task, const Boundary& b, StopKind kind, size_t policy,
                        const std::vector<GuestAddr>& trace);
    void report_mismatches(const TaskState& task, size_t before, std::optional<int> cpu,
                           uint64_t instruction);
    std::string symbolize_list(const std::vector<GuestAddr>& list) const;
    void resolve_symbols();

    CheckerConfig m_config;
    const MemoryReader& m_memory;
    const SymbolTable& m_symbols;
    const CfiTable* m_cfi;
    FunctionEntries m_entries;
    std::vector<AddrFacts> m_facts; // Direct-mapped by pc.
    uint32_t m_facts_generation = 1; // A slot of another generation is empty (refresh_symbols).
    std::vector<std::unique_ptr<UnwindPolicy>> m_policies;
    std::unique_ptr<CheckStatistics> m_stats;
    StackStoreTracker m_stores;
    std::unordered_map<int, std::unique_ptr<TaskState>> m_tasks;
    std::vector<GuestAddr> m_sleep_entries;
    std::vector<GuestAddr> m_bottom_returns;
    std::optional<GuestAddr> m_return_to_handler;
    std::vector<Finding> m_findings;
    std::vector<FindingSource> m_finding_sources; // Parallel to m_findings.
    std::unordered_set<uint64_t> m_reported;      // (pc, policy, view) already reported
    std::vector<GuestAddr> m_truth_scratch;
    UnwindResult m_unwind_scratch; // One policy's walk, its buffers reused.
    std::vector<GuestAddr> m_trace_scratch; // A memoised trace with this boundary's pc first.
    // The policy whose classes alone key walks (walk_class); -1: none yet.
    int m_sole_class_policy = -1;
    TaskState* m_last_task = nullptr;
    ChainMemo m_chains;
    ChainWalk::Scratch m_chain_scratch;
    uint64_t m_walks = 0;
    uint64_t m_chain_hits = 0;
};

} // namespace klpemu::unwinder
