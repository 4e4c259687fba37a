// CycleModelPool: machines booted one after another take turns with one model per core. That is
// only right if a model another machine used gives the same cycles as a fresh one, although it
// handed out its pool and advance-group ids in another order: checked on every core, in both
// cycle accuracies, over a stream whose words the used model first saw in reverse order and
// mixed with others.
#include "emu/cpu_clock.h"
#include "emu/cycle_model.h"
#include "emu/cycle_model_pool.h"

#include <doctest/doctest.h>

#include <array>
#include <vector>

using namespace klpemu;

namespace {

// Loads, stores, integer, multiply/divide, FP, SIMD, branches (words from llvm-mc).
constexpr std::array<uint32_t, 16> kStream = {
    0xf9400420, // ldr   x0, [x1, #8]
    0x8b030002, // add   x2, x0, x3
    0x9b027c44, // mul   x4, x2, x2
    0x9ac30885, // udiv  x5, x4, x3
    0xa9bf7bfd, // stp   x29, x30, [sp, #-16]!
    0x1e620820, // fmul  d0, d1, d2
    0x1e602803, // fadd  d3, d0, d0
    0xa94153f3, // ldp   x19, x20, [sp, #16]
    0x9b0408a6, // madd  x6, x5, x4, x2
    0x3d800400, // str   q0, [x0, #16]
    0xb4000040, // cbz   x0, #8
    0x4ea28420, // add   v0.4s, v1.4s, v2.4s
    0xb8617807, // ldr   w7, [x0, x1, lsl #2]
    0xcac60ce8, // eor   x8, x7, x6, ror #3
    0x94000010, // bl    #64
    0xd65f03c0, // ret
};

// Words the first machine's model decodes before the stream, so that ids come out in another
// order: ldr x9, [sp]; sdiv; fdiv; fsqrt; then the stream backwards.
constexpr std::array<uint32_t, 4> kOthers = {0xf94003e9, 0x9ac30c85, 0x1e621820, 0x1e61c020};

std::vector<uint64_t> cycles(const CycleModel& model, CycleAccuracy mode) {
    auto clock = CpuClock::create(model, mode);
    REQUIRE_MESSAGE(clock.ok(), clock.error().message);
    std::vector<uint64_t> out;
    for (int round = 0; round < 3; ++round) {
        uint64_t pc = 0xffff800008000000ULL;
        for (uint32_t w : kStream) {
            out.push_back((*clock)->instruction(pc, model.cost(InsnWord(w)), InsnWord(w)));
            pc += 4;
        }
    }
    return out;
}

// True if `a` and `b` name any pool or advance group of the stream by different ids.
bool ids_differ(const CycleModel& a, const CycleModel& b) {
    for (uint32_t w : kStream) {
        const InsnCost x = a.cost(InsnWord(w)), y = b.cost(InsnWord(w));
        if (x.units != y.units || x.reads != y.reads) {
            return true;
        }
    }
    return false;
}

} // namespace

TEST_CASE("cycle model pool: a model another machine used gives a fresh model's cycles") {
    int reordered = 0; // Cores where the used model's ids really differ from the fresh one's.
    for (std::string_view core : CycleModel::known_cores()) {
        for (CycleAccuracy mode : {CycleAccuracy::Fast, CycleAccuracy::Pipeline}) {
            CAPTURE(core);
            CAPTURE(int(mode));
            auto fresh = CycleModel::create(core);
            REQUIRE_MESSAGE(fresh.ok(), fresh.error().message);
            const std::vector<uint64_t> want = cycles(*fresh, mode);

            CycleModelPool pool;
            {
                auto first = pool.acquire(core);
                REQUIRE(first.ok());
                for (uint32_t w : kOthers) {
                    (void)(*first)->cost(InsnWord(w));
                }
                for (auto it = kStream.rbegin(); it != kStream.rend(); ++it) {
                    (void)(*first)->cost(InsnWord(*it));
                }
            } // The first machine is gone: its model waits in the pool.
            REQUIRE(pool.idle() == 1);
            auto second = pool.acquire(core);
            REQUIRE(second.ok());
            CHECK(pool.idle() == 0);
            CHECK(cycles(**second, mode) == want);
            reordered += ids_differ(*fresh, **second) ? 1 : 0;
        }
    }
    CHECK(reordered > 0); // Otherwise the test would compare two identical models.
}

TEST_CASE("cycle model pool: live machines never share a model; a released one is reused") {
    CycleModelPool pool;
    auto a = pool.acquire("cortex-a72");
    auto b = pool.acquire("cortex-a72");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->get() != b->get());
    const CycleModel* first = a->get();
    *a = nullptr;
    CHECK(pool.idle() == 1);
    auto c = pool.acquire("cortex-a72");
    REQUIRE(c.ok());
    CHECK(c->get() == first);
    auto other = pool.acquire("cortex-a53"); // Another core never takes it.
    REQUIRE(other.ok());
    CHECK(other->get() != first);
    CHECK(!pool.acquire("no-such-core").ok());
}

TEST_CASE("cycle model pool: a model whose tables filled up is freed, not handed on") {
    // A sweep of the encoding space decodes many sched classes, each with its own ReadAdvance
    // groups (67 on neoverse-n1 with LLVM 19): more than a machine of the bundled library adds.
    CycleModelPool pool;
    {
        auto m = pool.acquire("neoverse-n1");
        REQUIRE(m.ok());
        for (uint32_t top = 0; top < 65536; ++top) {
            (void)(*m)->cost(InsnWord((top << 16) | 0x20a3));
        }
        const SchedTables& t = (*m)->tables();
        REQUIRE((t.pools.size() > 64 || t.advance.size() > 64));
    }
    CHECK(pool.idle() == 0);
    auto next = pool.acquire("neoverse-n1");
    REQUIRE(next.ok());
    CHECK((*next)->tables().advance.size() < 8); // A new model, not the full one.
}
