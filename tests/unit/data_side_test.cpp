// The L1 data cache and data TLB approximation (emu/data_side.h): first touch, eviction by LRU
// within a set, the micro TLB's capacity, accesses that straddle lines and pages, and stores
// that allocate but never stall.
#include "emu/data_side.h"

#include <doctest/doctest.h>

using namespace klpemu;

TEST_CASE("data side: loads miss on first touch and on eviction; stores allocate for free") {
    const CoreParams& a53 = core_params("cortex-a53");
    DataSide ds(a53);
    CHECK(ds.access(0x10000, 8, false) == a53.dcache_miss_cycles + a53.dtlb_miss_cycles);
    CHECK(ds.access(0x10008, 8, false) == 0);                      // Same line.
    CHECK(ds.access(0x10040, 8, false) == a53.dcache_miss_cycles); // Same page, new line.
    // Five lines mapping to the same set of the A53's 4-way cache evict the least recently used.
    const uint64_t way_stride = a53.dcache_bytes / a53.dcache_ways;
    for (uint64_t k = 1; k <= 4; ++k) {
        ds.access(0x10000 + k * way_stride, 8, false);
    }
    CHECK(ds.access(0x10000, 8, false) >= a53.dcache_miss_cycles);
    CHECK(ds.stats().dcache_misses == 7);
    // A store to a new line costs nothing but brings the line in.
    CHECK(ds.access(0x90000, 8, true) == 0);
    CHECK(ds.access(0x90000, 8, false) == 0);
    CHECK(ds.stats().stores == 1);
    // An access across a line boundary touches both lines; across a page, both pages.
    DataSide straddle(a53);
    CHECK(straddle.access(0x2003c, 8, false) == 2 * a53.dcache_miss_cycles + a53.dtlb_miss_cycles);
    CHECK(straddle.access(0x30ffc, 8, false) ==
          2 * a53.dcache_miss_cycles + 2 * a53.dtlb_miss_cycles);
}

TEST_CASE("data side: the micro TLB holds the core's number of pages") {
    for (const char* core : {"cortex-a53", "cortex-a72", "neoverse-n1"}) {
        CAPTURE(core);
        const CoreParams& p = core_params(core);
        DataSide ds(p);
        for (uint64_t page = 0; page < p.dtlb_entries; ++page) {
            ds.access(page << 12, 8, false);
        }
        ds.access(0, 8, false); // Still held.
        CHECK(ds.stats().dtlb_misses == p.dtlb_entries);
        ds.access(uint64_t(p.dtlb_entries) << 12, 8, false); // Evicts page 1, the LRU one.
        ds.access(1 << 12, 8, false);
        CHECK(ds.stats().dtlb_misses == p.dtlb_entries + 2);
    }
}

TEST_CASE("data side: per-core parameters follow the TRMs") {
    CHECK(core_params("cortex-a53").dcache_ways == 4);
    CHECK(core_params("cortex-a53").dtlb_entries == 10);
    CHECK(core_params("cortex-a72").dcache_bytes == 32 * 1024);
    CHECK(core_params("cortex-a72").dcache_ways == 2);
    CHECK(core_params("cortex-a72").dtlb_entries == 32);
    CHECK(core_params("neoverse-n1").dcache_bytes == 64 * 1024);
    CHECK(core_params("neoverse-n1").dtlb_entries == 48);
}
