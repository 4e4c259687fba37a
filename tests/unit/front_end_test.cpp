// The front end's predictor, I-cache and I-TLB (emu/front_end.h) on hand-made PC streams.
#include "emu/front_end.h"

#include <doctest/doctest.h>

using namespace klpemu;

TEST_CASE("front end: a loop branch mispredicts while training and at the exit") {
    FrontEnd fe(core_params("cortex-a53"));
    const uint64_t br = 0x1000, top = 0x0f00;
    int wrong = 0;
    for (int i = 0; i < 10; ++i) { // Taken nine times, then falls through.
        wrong += fe.mispredicted(BranchKind::Conditional, br, i < 9 ? top : br + 4) ? 1 : 0;
    }
    // Weakly not-taken at first: the first taken is wrong, the next eight right, the exit wrong.
    CHECK(wrong == 2);
    CHECK(fe.stats().mispredicts == 2);
}

TEST_CASE("front end: calls and returns pair up on the return stack") {
    FrontEnd fe(core_params("cortex-a53"));
    CHECK_FALSE(fe.mispredicted(BranchKind::Call, 0x100, 0x800));
    CHECK_FALSE(fe.mispredicted(BranchKind::Call, 0x804, 0x900));
    CHECK_FALSE(fe.mispredicted(BranchKind::Return, 0x904, 0x808));
    CHECK_FALSE(fe.mispredicted(BranchKind::Return, 0x80c, 0x104));
    // A hijacked return (the graph tracer's return_to_handler) is a miss.
    CHECK_FALSE(fe.mispredicted(BranchKind::Call, 0x100, 0x800));
    CHECK(fe.mispredicted(BranchKind::Return, 0x804, 0x5000));
    // An empty stack predicts nothing.
    CHECK(fe.mispredicted(BranchKind::Return, 0x5004, 0x104));
    // Indirect branches: last target.
    CHECK(fe.mispredicted(BranchKind::Indirect, 0x200, 0x3000));
    CHECK_FALSE(fe.mispredicted(BranchKind::Indirect, 0x200, 0x3000));
    CHECK(fe.mispredicted(BranchKind::Indirect, 0x200, 0x4000));
}

TEST_CASE("front end: I-cache and I-TLB misses on first touch and on eviction") {
    const CoreParams& a53 = core_params("cortex-a53");
    FrontEnd fe(a53);
    CHECK(fe.fetch(0x10000) == a53.icache_miss_cycles + a53.itlb_miss_cycles);
    CHECK(fe.fetch(0x10000) == 0);
    CHECK(fe.fetch(0x10040) == a53.icache_miss_cycles); // Same page, new line.
    // Three lines mapping to the same set of a 2-way cache evict the least recently used.
    const uint64_t way_stride = a53.icache_bytes / a53.icache_ways;
    fe.fetch(0x10000 + way_stride);
    fe.fetch(0x10000 + 2 * way_stride);
    CHECK(fe.fetch(0x10000) >= a53.icache_miss_cycles);
    CHECK(fe.stats().icache_misses == 5);
    // Eleven pages overflow the A53's 10-entry micro TLB.
    FrontEnd tlb(a53);
    for (uint64_t p = 0; p < 11; ++p) {
        tlb.fetch(p << 12);
    }
    CHECK(tlb.stats().itlb_misses == 11);
    tlb.fetch(0);
    CHECK(tlb.stats().itlb_misses == 12);
}
