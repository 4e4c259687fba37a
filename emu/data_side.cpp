// DataSide (see data_side.h).
#include "emu/data_side.h"

#include "emu/check.h"
#include "emu/lru.h"

#include <algorithm>
#include <bit>

namespace klpemu {

DataSide::DataSide(const CoreParams& params)
    : m_params(&params), m_ways(std::max(1u, params.dcache_ways)),
      m_dcache(size_t(std::max(1u, params.dcache_bytes / (64 * m_ways))) * m_ways, kNoLruTag),
      m_dtlb(std::max(1u, params.dtlb_entries), kNoLruTag) {
    const auto sets = unsigned(m_dcache.size() / m_ways);
    KLP_CHECK(std::has_single_bit(sets), "{}: D-cache sets must be a power of two", params.core);
    m_set_mask = sets - 1;
}

unsigned DataSide::line(uint64_t line_number) {
    if (lookup_lru(&m_dcache[size_t(line_number & m_set_mask) * m_ways], m_ways, line_number)) {
        return 0;
    }
    ++m_stats.dcache_misses;
    return m_params->dcache_miss_cycles;
}

unsigned DataSide::access(uint64_t addr, unsigned size, bool store) {
    ++(store ? m_stats.stores : m_stats.loads);
    const uint64_t last = addr + std::max(1u, size) - 1;
    unsigned stall = 0;
    for (uint64_t page = addr >> kPageShift; page <= last >> kPageShift; ++page) {
        if (!lookup_lru(m_dtlb.data(), unsigned(m_dtlb.size()), page)) {
            ++m_stats.dtlb_misses;
            stall += m_params->dtlb_miss_cycles;
        }
    }
    for (uint64_t l = addr >> kLineShift; l <= last >> kLineShift; ++l) {
        stall += line(l);
    }
    return store ? 0 : stall;
}

} // namespace klpemu
