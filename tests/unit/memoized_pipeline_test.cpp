// MemoizedPipeline against FastPipeline: the same instruction words and front-end events, step
// by step, on every core; the memo must replay most steps and change no charge. The streams are
// real encodings (assembled by LLVM MC) chosen to exercise what the relative state must carry:
// forwarding between a multiply and its accumulator (ReadAdvance, so the writer matters), long
// udiv latencies across many later instructions, dual issue, unit bookings, loads and stores,
// and mispredicts, I-cache stalls and serialising events at random points.
#include "emu/cycle_model.h"
#include "emu/fast_pipeline.h"
#include "emu/memoized_pipeline.h"

#include "support/asm_words.h"

#include <doctest/doctest.h>

#include <random>

using namespace klpemu;

namespace {

constexpr std::string_view kPool = R"(
    add x1, x1, #1
    add x2, x3, x4
    madd x5, x6, x7, x5
    mul x8, x5, x9
    madd x5, x8, x7, x5
    udiv x10, x11, x12
    add x13, x10, #3
    ldr x14, [x15, #8]
    add x16, x14, x14
    str x16, [sp, #16]
    stp x29, x30, [sp, #-32]!
    ldp x29, x30, [sp], #32
    fmul d0, d1, d2
    fadd d3, d0, d4
    fmadd d5, d0, d1, d5
    mov v0.16b, v1.16b
    add v2.4s, v3.4s, v4.4s
    cmp x1, #100
    csel x2, x3, x4, lt
    lsl x5, x6, #3
    sdiv w7, w8, w9
    ldrb w10, [x11]
    nop
    isb
    ret
    bl .
    b.ne .
)";

CycleModel model(std::string_view core) {
    auto m = CycleModel::create(core);
    REQUIRE_MESSAGE(m.ok(), m.error().message);
    return std::move(m).value();
}

// A stream of "basic blocks": each a fixed run of pool words, repeated in a random order so
// the same relative states come back, with events drawn at random between instructions.
void compare(std::string_view core, uint32_t seed, uint64_t* replayed, uint64_t* computed) {
    CycleModel m = model(core);
    const std::vector<InsnWord> pool = test::assemble_words(kPool);
    REQUIRE(pool.size() >= 20);
    std::mt19937 rng(seed);
    std::vector<std::vector<InsnWord>> blocks(12);
    for (auto& b : blocks) {
        const size_t n = 2 + rng() % 8;
        for (size_t i = 0; i < n; ++i) {
            b.push_back(pool[rng() % pool.size()]);
        }
    }
    FastPipeline plain(m.tables());
    MemoizedPipeline memo(m.tables());
    for (int step = 0; step < 20'000; ++step) {
        if (step % 64 == 63) {
            // Text changes under a remembered address: the same pc, another word.
            auto& b = blocks[rng() % blocks.size()];
            b[rng() % b.size()] = pool[rng() % pool.size()];
        }
        const size_t bi = rng() % blocks.size();
        const uint64_t base = 0xffff800008000000ULL + 0x1000 * bi;
        for (size_t i = 0; i < blocks[bi].size(); ++i) {
            const InsnWord w = blocks[bi][i];
            const InsnCost cost = m.cost(w);
            const uint64_t want = plain.account(cost);
            const uint64_t got = memo.account(base + 4 * i, cost, w.raw);
            REQUIRE_MESSAGE(want == got, core, " seed ", seed, " step ", step, " word ", w.raw);
        }
        switch (rng() % 16) {
        case 0: {
            const unsigned penalty = m.tables().mispredict_penalty + rng() % 2;
            plain.mispredict(penalty);
            memo.mispredict(penalty);
            break;
        }
        case 1: {
            const unsigned stall = rng() % 12;
            plain.fetch_stall(stall);
            memo.fetch_stall(stall);
            break;
        }
        case 2: {
            const unsigned extra = rng() % 20;
            REQUIRE(plain.serialize(extra) == memo.serialize(extra));
            break;
        }
        default:
            break;
        }
        REQUIRE(plain.total_cycles() == memo.total_cycles());
    }
    *replayed += memo.replayed();
    *computed += memo.computed();
}

} // namespace

TEST_CASE("memoized pipeline: every charge equals FastPipeline's, on every core") {
    for (std::string_view core : CycleModel::known_cores()) {
        uint64_t replayed = 0, computed = 0;
        for (uint32_t seed = 1; seed <= 4; ++seed) {
            compare(core, seed, &replayed, &computed);
        }
        CAPTURE(core);
        if (model(core).tables().in_order()) {
            // The memo is used, and mostly replays.
            CHECK(computed > 0);
            CHECK(replayed > 4 * computed);
        } else {
            CHECK(replayed == 0); // Out-of-order cores are not memoised.
        }
    }
}

TEST_CASE("memoized pipeline: a relative state is canonical") {
    // Two pipelines that ran different histories long ago end up in the same relative state.
    CycleModel m = model("cortex-a53");
    const auto words = test::assemble_words("udiv x1, x2, x3\nadd x4, x4, #1\nnop\n");
    FastPipeline a(m.tables()), b(m.tables());
    a.account(m.cost(words[0])); // A long udiv only in a's past.
    for (int i = 0; i < 200; ++i) {
        a.account(m.cost(words[1]));
        b.account(m.cost(words[1]));
    }
    REQUIRE(a.relative_state().has_value());
    CHECK(*a.relative_state() == *b.relative_state());
    // ... and the udiv's result is still pending right after it: not the same state.
    FastPipeline c(m.tables());
    c.account(m.cost(words[0]));
    c.account(m.cost(words[2]));
    FastPipeline d(m.tables());
    d.account(m.cost(words[2]));
    d.account(m.cost(words[2]));
    CHECK_FALSE(*c.relative_state() == *d.relative_state());
}
