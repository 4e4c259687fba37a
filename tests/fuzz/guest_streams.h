// Instruction streams for the guest-execution fuzzer (issue 18): what a careless patch or a
// corrupted text write puts in front of the CPU. A stream mixes uniformly random words,
// words from a dictionary of instructions real arm64 kernel text is made of, single-bit and
// field mutations of those, and words drawn from the decoder groups where Unicorn 2.0.1's
// QEMU 5.0 translator is known to abort (AdvSIMD and scalar FP16 two-register misc and
// three-same): the place to look for words the text guard must catch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace klpemu::fuzz {

// splitmix64: a small, seedable generator; the same seed always gives the same case.
class Rng {
  public:
    explicit Rng(uint64_t seed) : m_state(seed) {}
    uint64_t next() {
        uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n).
    uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
    bool chance(unsigned percent) { return below(100) < percent; }

  private:
    uint64_t m_state;
};

enum class WordSource { Random, Dictionary, Mutated, RiskyGroup };

// One word from `source`.
uint32_t stream_word(Rng& rng, WordSource source);
// A stream of `length` words with a random mix of sources (no prologue or return).
std::vector<uint32_t> random_stream(Rng& rng, size_t length);

} // namespace klpemu::fuzz
