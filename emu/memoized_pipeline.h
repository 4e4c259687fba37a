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

    // Accounts one instruction with facts `cost` decoded from `word` (the contract: equal words
    // have equal facts, as CycleModel::cost guarantees); returns the cycles it adds.
    uint64_t account(const InsnCost& cost, uint32_t word) {
        if (m_memoise) [[likely]] {
            const Step& s = m_steps[index(m_state, word)];
            if (s.from == m_state && s.key == word) [[likely]] {
                return replay(s);
            }
            return compute(word, &cost);
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
    uint64_t event(EventKind kind, unsigned parameter);
    uint32_t intern(const InOrderState& s);
    void forget_all();

    FastPipeline m_pipe;
    bool m_memoise;
    bool m_stale = false; // m_pipe lags behind m_state (replayed steps since it last ran).
    uint32_t m_state = kNoState;
    uint64_t m_cycle = 0, m_total = 0;
    std::vector<Step> m_steps;
    std::unordered_map<InOrderState, uint32_t, StateHash> m_ids;
    std::vector<const InOrderState*> m_states; // By id; the keys of m_ids.
    uint64_t m_replayed = 0, m_computed = 0;
};

} // namespace klpemu
