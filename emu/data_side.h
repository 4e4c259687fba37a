// The data side of the memory system that llvm-mca leaves out: an L1 data cache and an L1 data
// TLB with per-core sizes from emu/core_params.h (the cores' TRMs). llvm-mca charges every load
// the scheduling model's load-to-use latency, i.e. an L1 hit; a kernel that walks more data than
// the L1 holds (a long list, a cold task stack, a freshly written trampoline page) pays refills
// on silicon. This approximation gives them back, per access:
//   - a load looks its 4 KiB page up in a fully associative LRU D-TLB and its 64-byte line(s) in
//     an LRU set-associative D-cache; each miss costs the core's miss cycles (a main/L2-TLB hit,
//     an L2 hit), charged as a stall of the pipeline behind the load (a blocking L1: no
//     hit-under-miss, no prefetcher, no L2 or DRAM beyond the one refill figure);
//   - a store allocates its line and page the same way (write-back, write-allocate) but costs
//     nothing: the store buffer hides it.
// The machine feeds it guest data accesses only when asked (MachineConfig::data_cache), because
// that needs Unicorn's memory hooks on every load and store, which slow the emulator down.
#pragma once

#include "emu/core_params.h"

#include <cstdint>
#include <vector>

namespace klpemu {

struct DataSideStats {
    uint64_t loads = 0;
    uint64_t stores = 0;
    uint64_t dcache_misses = 0;
    uint64_t dtlb_misses = 0;
};

class DataSide {
  public:
    explicit DataSide(const CoreParams& params);

    // A guest access of `size` bytes at `addr` (a load unless `store`); returns the stall cycles
    // it costs (0 for every store and for loads that hit).
    unsigned access(uint64_t addr, unsigned size, bool store);
    const DataSideStats& stats() const { return m_stats; }

  private:
    static constexpr unsigned kLineShift = 6, kPageShift = 12;
    unsigned line(uint64_t line_number);
    const CoreParams* m_params;
    DataSideStats m_stats;
    unsigned m_set_mask = 0, m_ways = 1;
    std::vector<uint64_t> m_dcache; // Per set, `m_ways` line tags, most recently used first.
    std::vector<uint64_t> m_dtlb;   // Page numbers, most recently used first.
};

} // namespace klpemu
