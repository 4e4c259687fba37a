// A least-recently-used lookup over one set of a cache or TLB, kept in recency order (most recent
// first) so that the common case — the line or page used last — is one compare. Shared by the
// instruction side (emu/front_end.h) and the data side (emu/data_side.h).
#pragma once

#include <algorithm>
#include <cstdint>

namespace klpemu {

inline constexpr uint64_t kNoLruTag = ~uint64_t(0);

// Looks `tag` up in the `n` recency-ordered `ways`; moves it (or, on a miss, the new tag
// replacing the least recently used one) to the front. Returns whether it hit.
inline bool lookup_lru(uint64_t* ways, unsigned n, uint64_t tag) {
    if (ways[0] == tag) {
        return true;
    }
    unsigned at = 1;
    while (at < n && ways[at] != tag) {
        ++at;
    }
    const bool hit = at < n;
    std::move_backward(ways, ways + std::min(at, n - 1), ways + std::min(at, n - 1) + 1);
    ways[0] = tag;
    return hit;
}

} // namespace klpemu
