// FrontEnd (see front_end.h). LRU structures are kept in recency order (most recent first), so
// the common case — the line or page used last — is one compare.
#include "emu/front_end.h"

#include <algorithm>

namespace klpemu {

namespace {

constexpr uint64_t kNoTag = ~uint64_t(0);

// Looks `tag` up in the recency-ordered `ways`; moves it (or, on a miss, the new tag replacing
// the least recently used one) to the front. Returns whether it hit.
bool lookup_lru(uint64_t* ways, unsigned n, uint64_t tag) {
    if (ways[0] == tag) {
        return true;
    }
    unsigned at = 1;
    while (at < n && ways[at] != tag) {
        ++at;
    }
    const bool hit = at < n;
    std::move_backward(ways, ways + std::min(at, n - 1), ways + std::min(at, n - 1) + 1);
    ways[0] = tag;
    return hit;
}

} // namespace

FrontEnd::FrontEnd(const CoreParams& params)
    : m_params(&params), m_counters(std::max(1u, params.predictor_entries), 1),
      m_last_target(std::max(1u, params.predictor_entries), 0),
      m_rs_capacity(std::clamp(params.return_stack, 1u, kMaxReturnStack)),
      m_ways(std::max(1u, params.icache_ways)),
      m_icache(size_t(std::max(1u, params.icache_bytes / (64 * m_ways))) * m_ways, kNoTag),
      m_itlb(std::max(1u, params.itlb_entries), kNoTag) {
    m_sets = unsigned(m_icache.size() / m_ways);
}

bool FrontEnd::mispredicted(BranchKind kind, uint64_t branch_pc, uint64_t next_pc) {
    ++m_stats.branches;
    const size_t index = (branch_pc >> 2) % m_counters.size();
    bool wrong = false;
    switch (kind) {
    case BranchKind::None:
    case BranchKind::Direct:
        break;
    case BranchKind::Conditional: {
        const bool taken = next_pc != branch_pc + 4;
        uint8_t& c = m_counters[index];
        wrong = (c >= 2) != taken;
        c = taken ? uint8_t(std::min(3, c + 1)) : uint8_t(std::max(0, c - 1));
        break;
    }
    case BranchKind::Call:
    case BranchKind::IndirectCall:
        // A full return stack overwrites its oldest entry.
        m_return_stack[m_rs_top] = branch_pc + 4;
        m_rs_top = (m_rs_top + 1) % m_rs_capacity;
        m_rs_count = std::min(m_rs_count + 1, m_rs_capacity);
        if (kind == BranchKind::Call) {
            break;
        }
        [[fallthrough]];
    case BranchKind::Indirect:
        wrong = m_last_target[index] != next_pc;
        m_last_target[index] = next_pc;
        break;
    case BranchKind::Return:
        if (m_rs_count == 0) {
            wrong = true;
            break;
        }
        m_rs_top = (m_rs_top + m_rs_capacity - 1) % m_rs_capacity;
        --m_rs_count;
        wrong = m_return_stack[m_rs_top] != next_pc;
        break;
    }
    m_stats.mispredicts += wrong ? 1 : 0;
    return wrong;
}

unsigned FrontEnd::fetch(uint64_t pc) {
    unsigned stall = 0;
    if (!lookup_lru(m_itlb.data(), unsigned(m_itlb.size()), pc >> kPageShift)) {
        stall += m_params->itlb_miss_cycles;
        ++m_stats.itlb_misses;
    }
    const uint64_t line = pc >> kLineShift;
    if (!lookup_lru(&m_icache[size_t(line % m_sets) * m_ways], m_ways, line)) {
        stall += m_params->icache_miss_cycles;
        ++m_stats.icache_misses;
    }
    return stall;
}

} // namespace klpemu
