// MemoizedPipeline (see memoized_pipeline.h).
#include "emu/memoized_pipeline.h"

#include "emu/check.h"

#include <cstring>
#include <string_view>
#include <type_traits>

namespace klpemu {

static_assert(std::has_unique_object_representations_v<InOrderState>,
              "InOrderState is hashed as bytes: it must have no padding");

size_t MemoizedPipeline::StateHash::operator()(const InOrderState& s) const noexcept {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(&s), sizeof s));
}

MemoizedPipeline::MemoizedPipeline(const SchedTables& tables, bool memoise)
    : m_pipe(tables), m_memoise(memoise && m_pipe.in_order()) {
    if (!m_memoise) {
        return;
    }
    m_steps.resize(size_t(1) << kStepBits);
    m_hints.resize(kHints);
    const auto start = m_pipe.relative_state();
    KLP_CHECK(start.has_value(), "the empty pipeline's state does not fit InOrderState");
    m_state = intern(*start);
}

uint32_t MemoizedPipeline::intern(const InOrderState& s) {
    if (auto it = m_ids.find(s); it != m_ids.end()) {
        return it->second;
    }
    if (m_states.size() >= kMaxStates) {
        forget_all();
    }
    const auto id = uint32_t(m_states.size());
    auto [it, inserted] = m_ids.emplace(s, id);
    KLP_CHECK(inserted, "state interned twice");
    m_states.push_back(&it->first);
    return id;
}

void MemoizedPipeline::forget_all() {
    m_ids.clear();
    m_states.clear();
    std::fill(m_steps.begin(), m_steps.end(), Step{});
    std::fill(m_hints.begin(), m_hints.end(), Step{});
}

uint64_t MemoizedPipeline::account_slow(uint64_t pc, uint32_t word, const InsnCost& cost) {
    const uint32_t from = m_state;
    const Step& s = m_steps[index(from, word)];
    uint64_t charged = 0;
    if (s.from == from && s.key == word) {
        charged = replay(s);
    } else {
        charged = compute(word, &cost);
    }
    // Remember the step at `pc` if it is in the table now (compute records every step but those
    // from an unmemoised state or across a forget_all).
    const Step& now = m_steps[index(from, word)];
    if (from != kNoState && now.from == from && now.key == word) {
        m_hints[(pc >> 2) & (kHints - 1)] = now;
    }
    return charged;
}

uint64_t MemoizedPipeline::compute(uint64_t key, const InsnCost* cost) {
    if (m_stale) {
        m_pipe.set_relative_state(*m_states[m_state], m_cycle);
        m_stale = false;
    }
    const uint64_t cycle_before = m_pipe.cycle();
    const auto parameter = unsigned(key);
    uint64_t charged = 0;
    switch (key >> 32) {
    case 0:
        charged = m_pipe.account(*cost);
        break;
    case kMispredict:
        m_pipe.mispredict(parameter);
        break;
    case kFetchStall:
        m_pipe.fetch_stall(parameter);
        break;
    case kSerialize:
        charged = m_pipe.serialize(parameter);
        break;
    default:
        KLP_CHECK(false, "memoised pipeline: step key {:#x}", key);
    }
    ++m_computed;
    m_cycle = m_pipe.cycle();
    m_total = m_pipe.total_cycles();
    const uint32_t from = m_state;
    const auto now = m_pipe.relative_state();
    if (!now) {
        m_state = kNoState; // Unusual figures: run unmemoised until the state fits again.
        return charged;
    }
    const size_t generation = m_states.size();
    m_state = intern(*now);
    const bool forgot = m_states.size() < generation;
    const uint64_t advance = m_cycle - cycle_before;
    if (from != kNoState && !forgot && advance <= UINT32_MAX && charged <= UINT32_MAX) {
        m_steps[index(from, key)] = Step{key, from, m_state, uint32_t(advance), uint32_t(charged)};
    }
    return charged;
}

uint64_t MemoizedPipeline::event(EventKind kind, unsigned parameter) {
    const uint64_t key = (uint64_t(kind) << 32) | parameter;
    const Step& s = m_steps[index(m_state, key)];
    if (s.from == m_state && s.key == key) {
        return replay(s);
    }
    return compute(key, nullptr);
}

void MemoizedPipeline::mispredict(unsigned penalty) {
    if (!m_memoise) {
        m_pipe.mispredict(penalty);
        return;
    }
    event(kMispredict, penalty);
}

void MemoizedPipeline::fetch_stall(unsigned cycles) {
    if (!m_memoise) {
        m_pipe.fetch_stall(cycles);
        return;
    }
    event(kFetchStall, cycles);
}

uint64_t MemoizedPipeline::serialize(unsigned extra) {
    return m_memoise ? event(kSerialize, extra) : m_pipe.serialize(extra);
}

} // namespace klpemu
