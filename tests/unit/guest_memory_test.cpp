// GuestMemory's address lookup (emu/guest_memory.h): regions added in any order are found by
// every address inside them and by none outside, whatever the lookup cache last held.
#include "emu/guest_memory.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace klpemu;
using emu::GuestMemory;
using emu::kPageSize;

TEST_CASE("guest memory: lookup finds the region holding an address among many, out of order") {
    GuestMemory mem;
    const GuestAddr base{0xffff800040000000ULL};
    // 40 two-page regions with a one-page gap after each, added from the top down.
    for (int i = 39; i >= 0; --i) {
        const GuestAddr at = base + int64_t(uint64_t(i) * 3 * kPageSize);
        REQUIRE(mem.add_region(fmt::format("r{}", i), at, 2 * kPageSize).ok());
    }
    for (int i = 0; i < 40; ++i) {
        CAPTURE(i);
        const GuestAddr at = base + int64_t(uint64_t(i) * 3 * kPageSize);
        const std::string name = fmt::format("r{}", i);
        REQUIRE(mem.region_at(at) != nullptr);
        CHECK(mem.region_at(at)->name == name);
        CHECK(mem.region_at(at + int64_t(2 * kPageSize - 1))->name == name);
        CHECK(mem.region_at(at + int64_t(2 * kPageSize)) == nullptr); // The gap.
        CHECK(mem.host_ptr(at + int64_t(2 * kPageSize - 8), 8) != nullptr);
        CHECK(mem.host_ptr(at + int64_t(2 * kPageSize - 8), 16) == nullptr); // Runs off the end.
    }
    CHECK(mem.region_at(base - 1) == nullptr);
    CHECK(mem.region_at(base + int64_t(40 * 3 * kPageSize)) == nullptr);
    // Alternating between far-apart regions (what the store tracker does with many tasks).
    CHECK(mem.region_at(base)->name == "r0");
    CHECK(mem.region_at(base + int64_t(39 * 3 * kPageSize))->name == "r39");
    CHECK(mem.region_at(base + int64_t(1))->name == "r0");
    // Overlap is still refused.
    CHECK(!mem.add_region("overlap", base + int64_t(kPageSize), kPageSize).ok());
}
