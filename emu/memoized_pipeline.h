// The default cycle clock's fast path: FastPipeline's in-order model, memoised. The kernel code
// klpemu runs (call loops, trampolines, the same tracer entry again and again) puts the
// pipeline into the same relative state at the same instruction over and over, so the outcome
// of "this state, then this instruction word" is remembered: the cycles it charges, how far
// the issue cycle moves, and the state it leads to (states are interned as InOrderState, see
// emu/fast_pipeline.h). A remembered step costs one table probe instead of the pipeline's
// per-read and per-unit arithmetic; a new one runs FastPipeline and is recorded. Front-end
// events (a mispredict, an I-cache stall, a context-synchronising serialise) are steps too.
//
// The charges are exactly FastPipeline's (tests/unit/memoized_pipeline_test.cpp replays real
// instruction streams through both). Out-of-order cores are not memoised (their reorder window
// is too large a state); they run FastPipeline directly.
#pragma once

#include "emu/fast_pipeline.h"

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace klpemu {

class MemoizedPipeline {
  public:
    // A pipeline for the core `tables` describes; the tables must outlive it. `memoise` false
    // runs FastPipeline directly (as out-of-order cores always do).
    explicit MemoizedPipeline(const SchedTables& tables, bool memoise = true);

    // Accounts the instruction at `pc` with facts `cost` decoded from `word` (the contract:
    // equal words have equal facts, as CycleModel::cost guarantees); returns the cycles it adds.
    // `pc` only chooses where the step is remembered for the next visit (m_hints); the charge
    // depends on the state and the word alone.
    [[gnu::always_inline]] uint64_t account(uint64_t pc, const InsnCost& cost, uint32_t word) {
        if (m_memoise) [[likely]] {
            const Step& h = m_hints[(pc >> 2) & (kHints - 1)];
            if (h.from == m_state && h.key == word) [[likely]] {
                return replay(h);
            }
            return account_slow(pc, word, cost);
        }
        return m_pipe.account(cost);
    }
    // FastPipeline's front-end and serialising events, memoised the same way.
    void mispredict(unsigned penalty);
    void fetch_stall(unsigned cycles);
    uint64_t serialize(unsigned extra);
    uint64_t total_cycles() const { return m_memoise ? m_total : m_pipe.total_cycles(); }

    // Statistics for benchmarks and tests: replayed steps, computed steps, interned states.
    uint64_t replayed() const { return m_replayed; }
    uint64_t computed() const { return m_computed; }
    size_t states() const { return m_states.size(); }

  private:
    static constexpr uint32_t kNoState = ~uint32_t(0);
    static constexpr unsigned kStepBits = 13;
    static constexpr size_t kHints = size_t(1) << 12; // 96 KiB per CPU.
    static constexpr size_t kMaxStates = size_t(1) << 12; // ~2 MiB; then all is forgotten.
    // Keys above 32 bits are events: (kind << 32) | parameter.
    enum EventKind : uint64_t { kMispredict = 1, kFetchStall = 2, kSerialize = 3 };

    struct Step {
        uint64_t key = ~uint64_t(0); // No instruction or event has this key.
        uint32_t from = kNoState;
        uint32_t to = kNoState;
        uint32_t cycle_advance = 0;
        uint32_t charged = 0;
    };
    struct StateHash {
        size_t operator()(const InOrderState& s) const noexcept;
    };

    static size_t index(uint32_t state, uint64_t key) {
        const uint64_t h =
            (uint64_t(state) * 0x9e3779b97f4a7c15ULL) ^ (key * 0xc2b2ae3d27d4eb4fULL);
        return size_t(h >> (64 - kStepBits));
    }
    uint64_t replay(const Step& s) {
        m_cycle += s.cycle_advance;
        m_total += s.charged;
        m_state = s.to;
        m_stale = true;
        ++m_replayed;
        return s.charged;
    }
    // Runs the step `key` (an instruction with facts `cost`, or an event) on the pipeline
    // brought up to date, records it from the current state, and returns its charge.
    uint64_t compute(uint64_t key, const InsnCost* cost);
    // account() when the hint does not hold: the step table, else compute; then the hint.
    uint64_t account_slow(uint64_t pc, uint32_t word, const InsnCost& cost);
    uint64_t event(EventKind kind, unsigned parameter);
    uint32_t intern(const InOrderState& s);
    void forget_all();

    FastPipeline m_pipe;
    bool m_memoise;
    bool m_stale = false; // m_pipe lags behind m_state (replayed steps since it last ran).
    uint32_t m_state = kNoState;
    uint64_t m_cycle = 0, m_total = 0;
    std::vector<Step> m_steps;
    // The step last taken at each address (direct-mapped by pc; a step is a function of its
    // state and word alone, so any address's step is valid wherever its state and word match).
    // A loop visits an address in the same state again and again, and the slot depends on the
    // pc only: the next instruction's lookup does not wait on this one's, as the step table's
    // (indexed by a hash of the state) did.
    std::vector<Step> m_hints;
    std::unordered_map<InOrderState, uint32_t, StateHash> m_ids;
    std::vector<const InOrderState*> m_states; // By id; the keys of m_ids.
    uint64_t m_replayed = 0, m_computed = 0;
};

} // namespace klpemu
