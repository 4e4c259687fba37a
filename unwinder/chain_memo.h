// The frame-chain memo (chain_cache.h says what a policy asks of it): the rest of a policy's
// walk from a frame record outward, kept with every task-stack word that rest read and the value
// it returned, so a later walk reaching the same record (key) takes the rest at once while those
// words are unchanged. A deep stack then costs one frame per new record: a walk from a new inner
// record steps once and meets the record below it, whose rest is memoised.
//
// It models nothing in the kernel; it exists so the per-step checker (reliability_checker.h)
// can check every boundary of a 400-frame recursion. Whether a rest still holds is decided the
// way memoised whole walks are (walk_memo.h): no logged change of the stack shadow touches its
// words, or every word still holds the value it read.
//
// Bounded by design: at most kMaxTails rests and kMaxWords words (entries, reads and values)
// across all tasks (16 MiB); the slot to reuse is chosen by CLOCK (second chance). A rest copies
// its entries, so the words grow with the square of a stack's depth (a 400-frame recursion's
// four policies need about 1.2 M words); past the budget the oldest rests are evicted and
// re-walked.
#pragma once

#include "unwinder/chain_cache.h"
#include "unwinder/stack_store_tracker.h"
#include "unwinder/stack_view.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace klpemu::unwinder {

class ChainMemo {
  public:
    static constexpr size_t kMaxWords = size_t(1) << 21;
    static constexpr size_t kMaxTails = size_t(1) << 14;

    struct Key {
        int task = 0;
        uint32_t policy = 0;
        ChainKey at;
        bool operator==(const Key&) const = default;
    };

    // The rest of one walk from its key. Counts and entry indices are relative to the step that
    // reached the key.
    struct Tail {
        bool limited = false;
        bool reliable = false;
        std::string reason;
        uint32_t reason_count = 0;
        uint32_t end_count = 0;
        std::vector<GuestAddr> entries;
        std::vector<uint32_t> step_counts;  // Per step after the first: its start count...
        std::vector<uint32_t> step_entries; // ...and the entries before it.
        std::vector<GuestAddr> reads;
        std::vector<uint64_t> values;
        uint64_t lo = 0, hi = 0;
        uint64_t stack_changes = 0; // StackShadow::change_count when last known valid.
        size_t words() const {
            return entries.size() + step_counts.size() + reads.size() + values.size() + 16;
        }
    };

    // Contract: max_words and max_tails > 0.
    explicit ChainMemo(size_t max_words = kMaxWords, size_t max_tails = kMaxTails);

    // The rest memoised for `key` (marked used), or nullptr.
    Tail* find(const Key& key);
    // A cleared rest for `key`, replacing the one there; call commit() once it is filled.
    Tail& insert(const Key& key);
    // Accounts the words of the rest insert() returned last, evicting others past the budget.
    void commit();
    // Forgets the rest for `key` (it no longer holds).
    void erase(const Key& key);
    // Forgets everything (objects were loaded: symbols, CFI and text may have changed).
    void clear();
    size_t words() const { return m_words; }
    size_t size() const { return m_index.size(); }

  private:
    struct KeyHash {
        size_t operator()(const Key& k) const {
            uint64_t h = (uint64_t(uint32_t(k.task)) << 32 | k.policy) * 0x9e3779b97f4a7c15ull;
            h ^= (k.at.a + (h << 6) + (h >> 2)) * 0xbf58476d1ce4e5b9ull;
            h ^= (k.at.b + (h << 6) + (h >> 2)) * 0x94d049bb133111ebull;
            h ^= k.at.c + (h << 6) + (h >> 2);
            return size_t(h ^ (h >> 31));
        }
    };
    struct Slot {
        Key key;
        bool used = false;
        bool referenced = false;
        size_t words = 0; // Accounted words.
        Tail tail;
    };

    void release(uint32_t s);
    uint32_t victim(uint32_t keep);

    size_t m_max_words;
    size_t m_max_tails;
    std::vector<Slot> m_slots;
    std::vector<uint32_t> m_free;
    std::unordered_map<Key, uint32_t, KeyHash> m_index;
    uint32_t m_hand = 0;
    uint32_t m_last = 0; // The slot insert() returned last.
    size_t m_words = 0;
};

// One policy's walk of one view, recording into and reusing from a ChainMemo.
class ChainWalk final : public ChainCache {
  public:
    // Scratch buffers the recorder reuses between walks.
    struct Scratch {
        std::vector<uint32_t> step_counts, step_entries;
    };

    // `reads`/`values` are the walk's record of task-stack reads (the whole walk's memo keeps
    // them); `outside_reads` counts its reads anywhere else. All must outlive the walk.
    ChainWalk(ChainMemo& memo, ChainMemo::Key base, const StackShadow& stack,
              const MemoryReader& memory, std::vector<GuestAddr>& reads,
              std::vector<uint64_t>& values, const uint64_t& outside_reads, Scratch& scratch);

    void step(uint32_t count, size_t entries) override;
    std::optional<ChainHit> reach(const ChainKey& key, uint32_t limit) override;
    void finish(std::span<const GuestAddr> all, uint32_t count, bool limited, bool reliable,
                std::string_view reason, uint32_t reason_count, bool storable) override;
    void virtual_read() override { m_virtual = m_virtual || m_recording; }

    // Rests taken from the memo in this walk (0 or 1).
    uint32_t hits() const { return m_hits; }
    // False: a rest's reads were left out of `reads` (it was longer than kCopiedReads): the
    // whole walk must not be reused on the strength of `reads`.
    bool reads_complete() const { return !m_uncopied; }

    static constexpr size_t kCopiedReads = 32;

  private:
    bool still_holds(ChainMemo::Tail& tail) const;

    ChainMemo& m_memo;
    ChainMemo::Key m_key; // The first key reached (when recording).
    const StackShadow& m_stack;
    const MemoryReader& m_memory;
    std::vector<GuestAddr>& m_reads;
    std::vector<uint64_t>& m_values;
    const uint64_t& m_outside;
    Scratch& m_scratch;
    uint32_t m_count = 0; // The current step's start count...
    size_t m_entries = 0; // ...and entries.
    bool m_recording = false;
    bool m_reached = false;
    bool m_virtual = false;
    bool m_uncopied = false;
    uint32_t m_count0 = 0; // At the first reach.
    size_t m_entries0 = 0;
    size_t m_reads0 = 0;
    uint64_t m_outside0 = 0;
    uint32_t m_hits = 0;
};

} // namespace klpemu::unwinder
