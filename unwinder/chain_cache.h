// What a policy's walk may ask of a frame-chain memo (chain_memo.h) while it walks: the
// per-step checker re-walks a deep stack at almost every boundary, yet a walk from a given frame
// record outward depends only on that record, the words it goes on to read, and how many steps
// the walk already took (livepatch's 100-entry trace buffer, the host's loop limit). A policy
// that tells the memo where it is can take the rest of the walk from an earlier walk, so a
// changed inner record costs one frame, not the stack.
//
// The protocol, for a policy whose walk is a loop of steps, each step starting with the
// policy's limit check (`count < limit`):
//
//   step(count, entries)  at the start of every step, after its limit check passed
//   reach(key, limit)     in the step just begun, once the rest of the walk depends only on
//                         `key`, the step count and the memory it will read; may answer with the
//                         rest of the walk (append it and stop)
//   finish(...)           when the walk ends, with how its rest (from the first reach) ended
//
// A null cache (StackView::chain) means: walk everything (the full-walk reference, the
// livepatch transition's walker).
#pragma once

#include "emu/guest_addr.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace klpemu::unwinder {

// Where a walk is, in the words its rest depends on (policy-defined).
struct ChainKey {
    uint64_t a = 0, b = 0, c = 0;
    bool operator==(const ChainKey&) const = default;
};

// The rest of a walk, as an earlier walk from the same key found it.
struct ChainHit {
    std::span<const GuestAddr> entries; // To append, in order.
    // True: the walk stops at the policy's own limit after these entries (the policy says why).
    // False: it ended on its own, as `reliable` and `reason` say.
    bool limited = false;
    bool reliable = false;
    // The first problem of these entries (empty: none before the limit; the policy then gives
    // its limit's reason); valid until the walk's next call into the cache.
    std::string_view reason;
    uint32_t reason_count = 0; // The step count at which `reason` arose.
    uint32_t end_count = 0;    // The walk's step count when it ends (as finish() takes it).
};

class ChainCache {
  public:
    virtual ~ChainCache() = default;
    // A step begins with the walk's step count and entries so far; its limit check passed.
    virtual void step(uint32_t count, size_t entries) = 0;
    // The rest of the walk from here depends only on `key`, the step count and the memory it
    // reads; returns it if an earlier walk from `key` still holds (its memory unchanged), else
    // nullopt. `limit`: the walk continues while count < limit at each step's start.
    virtual std::optional<ChainHit> reach(const ChainKey& key, uint32_t limit) = 0;
    // The walk ended with `all` its entries at step count `count` (when `limited`: the count
    // whose limit check failed). How the rest from the first reach() ended, as if nothing
    // before it had gone wrong: `limited` (stopped at the limit), else `reliable`; `reason` is
    // the first problem of that rest (or how it ended), which arose in the step that began at
    // count `reason_count`. `storable` false: the rest depended on more than its key.
    virtual void finish(std::span<const GuestAddr> all, uint32_t count, bool limited, bool reliable,
                        std::string_view reason, uint32_t reason_count, bool storable = true) = 0;
    // The walk read the virtual pt_regs (a function of the registers, not of memory).
    virtual void virtual_read() = 0;
};

} // namespace klpemu::unwinder
