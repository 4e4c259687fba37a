// The data side of the cycle clock (emu/data_side.h) on a real machine: with
// MachineConfig::data_cache, a load sweep over twice the L1 data cache pays a refill per line
// every pass, while the same number of loads over a region that fits pays only the first pass;
// without it, both cost the same. Both pipeline models.
#include "emu/core_params.h"
#include "machine_test_util.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::emu;
using klpemu::test::load_asm;
using klpemu::test::make_machine;
using klpemu::test::sym;

namespace {

// walk(bytes, passes): one 8-byte load per 64-byte line of buf[0, bytes), `passes` times.
constexpr std::string_view kWalk = R"(
        .data
        .balign 4096
buf:    .space 65536
        .text
        .globl walk
walk:   mov     x3, x1
1:      adrp    x2, buf
        add     x2, x2, :lo12:buf
        mov     x4, x0
2:      ldr     x5, [x2]
        add     x2, x2, #64
        subs    x4, x4, #64
        b.ne    2b
        subs    x3, x3, #1
        b.ne    1b
        ret
)";

uint64_t walk_cycles(CycleAccuracy mode, bool data_cache, uint64_t bytes, uint64_t passes) {
    MachineConfig cfg;
    cfg.cycles = mode;
    cfg.data_cache = data_cache;
    auto m = make_machine(cfg);
    load_asm(*m, kWalk);
    auto r = m->call(sym(*m, "walk"), {bytes, passes});
    REQUIRE(r.ok());
    return m->cpu_cycles(0);
}

} // namespace

TEST_CASE("machine: the data cache charges refills for what does not fit the L1") {
    const CoreParams& a53 = core_params("cortex-a53");
    REQUIRE(a53.dcache_bytes == 32 * 1024);
    for (CycleAccuracy mode : {CycleAccuracy::Fast, CycleAccuracy::Pipeline}) {
        CAPTURE(int(mode));
        // 4096 loads each: 64 KiB four times, or 4 KiB 64 times.
        const uint64_t big_off = walk_cycles(mode, false, 65536, 4);
        const uint64_t small_off = walk_cycles(mode, false, 4096, 64);
        const uint64_t big_on = walk_cycles(mode, true, 65536, 4);
        const uint64_t small_on = walk_cycles(mode, true, 4096, 64);
        CHECK(big_on > big_off);
        CHECK(small_on > small_off);
        const uint64_t big_extra = big_on - big_off, small_extra = small_on - small_off;
        // An LRU sweep over twice the capacity misses on every line: 4096 refills.
        CHECK(big_extra >= 4096 * a53.dcache_miss_cycles / 2);
        // The small region misses on its 64 lines and one page, once.
        CHECK(small_extra < 4096 * a53.dcache_miss_cycles / 16);
        CHECK(big_extra > 10 * small_extra);
    }
}
