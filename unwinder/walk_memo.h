// Memoised policy walks of one task and one view (reliability_checker.h): what every policy
// answered when the task was stopped at a given (pc, sp, x29, x30), together with the task-stack
// words the walks read, so the checker can reuse the answers while none of those words changed
// (stack_store_tracker.h), and the verdict against the ground truth while the shadow call stack
// is unchanged.
//
// Bounded by design: at most `capacity` walks, held in slots that are reused (their buffers
// too); the slot to reuse is chosen by CLOCK (second chance), an approximation of least recently
// used that costs one store per hit. A stack deeper than the capacity costs re-walks of the
// frames that fell out, never a wholesale reset.
#pragma once

#include "emu/graph_return_stack.h"
#include "emu/guest_addr.h"
#include "unwinder/check_statistics.h"

#include <array>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

namespace klpemu::unwinder {

// `pc` is the pc's class (ReliabilityChecker::walk_class): the pcs that walk alike.
struct WalkKey {
    uint64_t pc = 0, sp = 0, fp = 0, lr = 0;
    bool operator==(const WalkKey&) const = default;
};

struct WalkKeyHash {
    size_t operator()(const WalkKey& k) const {
        uint64_t h = k.pc * 0x9e3779b97f4a7c15ull;
        h ^= (k.sp + (h << 6) + (h >> 2)) * 0xbf58476d1ce4e5b9ull;
        h ^= (k.fp + (h << 6) + (h >> 2)) * 0x94d049bb133111ebull;
        h ^= k.lr + (h << 6) + (h >> 2);
        return size_t(h ^ (h >> 31));
    }
};

// How one policy's answer compared with the ground truth.
enum class Outcome : uint8_t { Correct, Unreliable, Unsound };

// One policy's answer, as much of it as the checker uses (the reason string is not kept).
struct MemoizedTrace {
    bool reliable = false;
    std::vector<GuestAddr> return_addresses;
};

// Every policy's walk of one view at one key.
struct MemoizedWalk {
    uint64_t stack_changes = 0; // StackShadow::change_count when last known valid.
    bool reusable = true;       // False: a walk read memory outside the task stack.
    std::vector<GuestAddr> reads;
    std::vector<uint64_t> values;        // What each of `reads` returned.
    uint64_t lo = 0, hi = 0;             // Bounds of `reads` (hi exclusive).
    std::vector<GraphReturnEntry> graph; // The graph return stack the walks saw.
    bool walked = false;                 // False: a fresh slot, `traces` are stale.
    GuestAddr pc;                        // The view's pc when walked (traces start with it).
    std::vector<MemoizedTrace> traces;   // Per policy.
    std::vector<Outcome> outcomes;       // Per policy, valid for truth_content.
    uint64_t truth_content = ~0ull;      // GroundTruth::content_id() the outcomes are valid for.
    uint64_t unsound = 0;                // Policies whose outcome is Unsound.
    // Deferred statistics: boundaries at which this walk's `outcomes` held, not yet counted
    // into `pending_row` (the checker's per-function row) and the totals. Counted before the
    // outcomes or the row change and before statistics are read.
    uint64_t pending = 0;
    std::vector<PolicyStats>* pending_row = nullptr;
};

class WalkMemo {
  public:
    // Where a walk was found last time (per pc and view in the checker): lets a lookup skip the
    // hash table. A stale hint is detected, never followed.
    struct Hint {
        const WalkMemo* memo = nullptr;
        uint32_t slot = 0;
        uint64_t serial = 0;
    };
    // Two hints per place: a pc reached with two different stacks in turn (leaf() called twice
    // from mid(), with two return addresses) finds both without the hash table.
    struct Hints {
        std::array<Hint, 2> way{};
        uint8_t next = 0; // The way a miss overwrites.
    };

    // Contract: capacity > 0.
    explicit WalkMemo(size_t capacity);

    // The walk for `key`, marked used: the memoised one, or a slot reset to "not walked"
    // (evicting a walk not used since the clock hand last passed it). Updates `hints`. A reset
    // slot keeps `pending`, `pending_row` and `outcomes` for the owner to count (the checker's
    // deferred statistics): they belong to the evicted walk until counted.
    MemoizedWalk& find_or_insert(const WalkKey& key, Hints& hints);
    // Where the walk the last find_or_insert returned is held (for held()).
    const Hint& last_hint() const { return m_last_hint; }
    // The walk `hint` names, marked used, if its slot still holds it; else nullptr. The caller
    // knows the key is the same (the checker's fast path keeps the registers it was found with).
    MemoizedWalk* held(const Hint& hint) {
        if (!holds(hint)) {
            return nullptr;
        }
        m_slots[hint.slot].referenced = true;
        return &m_slots[hint.slot].walk;
    }
    // Every walk held (to count their deferred statistics).
    void for_each(const std::function<void(MemoizedWalk&)>& fn);
    // Forgets every walk (objects were loaded: symbols and text may have changed).
    void clear();
    size_t size() const { return m_index.size(); }
    size_t capacity() const { return m_capacity; }

  private:
    static constexpr uint32_t kNone = ~0u;
    struct Slot {
        WalkKey key;
        uint64_t serial = 0;     // 0: free.
        bool referenced = false; // Used since the clock hand last passed.
        MemoizedWalk walk;
    };

    MemoizedWalk& use(uint32_t s, Hint& hint);
    // The slot `hint` names still holds the walk it named then.
    bool holds(const Hint& hint) const {
        return hint.memo == this && hint.slot < m_slots.size() &&
               m_slots[hint.slot].serial == hint.serial;
    }
    bool hit(const Hint& hint, const WalkKey& key) const {
        return holds(hint) && m_slots[hint.slot].key == key;
    }
    uint32_t victim();

    size_t m_capacity;
    std::vector<Slot> m_slots; // Grows up to m_capacity, then slots are reused.
    std::unordered_map<WalkKey, uint32_t, WalkKeyHash> m_index;
    uint32_t m_hand = 0; // The clock hand.
    Hint m_last_hint;
    uint64_t m_serial = 0;
};

} // namespace klpemu::unwinder
