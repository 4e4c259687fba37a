// FrontEnd (see front_end.h); the LRU structures are emu/lru.h's.
#include "emu/front_end.h"

#include "emu/check.h"
#include "emu/lru.h"

#include <algorithm>
#include <bit>

namespace klpemu {

FrontEnd::FrontEnd(const CoreParams& params)
    : m_params(&params), m_counters(std::max(1u, params.predictor_entries), 1),
      m_last_target(std::max(1u, params.predictor_entries), 0), m_index_mask(m_counters.size() - 1),
      m_rs_mask(std::clamp(params.return_stack, 1u, kMaxReturnStack) - 1),
      m_ways(std::max(1u, params.icache_ways)),
      m_icache(size_t(std::max(1u, params.icache_bytes / (64 * m_ways))) * m_ways, kNoLruTag),
      m_itlb(std::max(1u, params.itlb_entries), kNoLruTag) {
    const auto sets = unsigned(m_icache.size() / m_ways);
    KLP_CHECK(std::has_single_bit(m_counters.size()) && std::has_single_bit(m_rs_mask + 1) &&
                  std::has_single_bit(sets),
              "{}: predictor entries, return stack and I-cache sets must be powers of two",
              params.core);
    m_set_mask = sets - 1;
}

unsigned FrontEnd::fetch(uint64_t pc) {
    unsigned stall = 0;
    if (!lookup_lru(m_itlb.data(), unsigned(m_itlb.size()), pc >> kPageShift)) {
        stall += m_params->itlb_miss_cycles;
        ++m_stats.itlb_misses;
    }
    const uint64_t line = pc >> kLineShift;
    if (!lookup_lru(&m_icache[size_t(line & m_set_mask) * m_ways], m_ways, line)) {
        stall += m_params->icache_miss_cycles;
        ++m_stats.icache_misses;
    }
    return stall;
}

} // namespace klpemu
