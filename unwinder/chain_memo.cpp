// See chain_memo.h.
#include "unwinder/chain_memo.h"

#include "emu/check.h"

#include <algorithm>

namespace klpemu::unwinder {

ChainMemo::ChainMemo(size_t max_words, size_t max_tails)
    : m_max_words(max_words), m_max_tails(max_tails) {
    KLP_CHECK(max_words > 0 && max_tails > 0 && max_tails < ~0u, "chain memo budget {}/{}",
              max_words, max_tails);
}

ChainMemo::Tail* ChainMemo::find(const Key& key) {
    auto it = m_index.find(key);
    if (it == m_index.end()) {
        return nullptr;
    }
    Slot& slot = m_slots[it->second];
    slot.referenced = true;
    return &slot.tail;
}

void ChainMemo::release(uint32_t s) {
    Slot& slot = m_slots[s];
    m_index.erase(slot.key);
    m_words -= slot.words;
    slot.words = 0;
    slot.used = false;
    slot.referenced = false;
    slot.tail = Tail{}; // Gives its buffers back: the budget bounds what is held.
    m_free.push_back(s);
}

uint32_t ChainMemo::victim(uint32_t keep) {
    for (;;) {
        const uint32_t s = m_hand;
        m_hand = uint32_t((m_hand + 1) % m_slots.size());
        Slot& slot = m_slots[s];
        if (!slot.used || s == keep) {
            continue;
        }
        if (!slot.referenced) {
            return s;
        }
        slot.referenced = false;
    }
}

ChainMemo::Tail& ChainMemo::insert(const Key& key) {
    uint32_t s = 0;
    if (auto it = m_index.find(key); it != m_index.end()) {
        s = it->second;
        m_words -= m_slots[s].words;
        m_slots[s].words = 0;
    } else {
        if (m_free.empty() && m_slots.size() < m_max_tails) {
            m_slots.emplace_back();
            m_free.push_back(uint32_t(m_slots.size() - 1));
        } else if (m_free.empty()) {
            release(victim(~0u));
        }
        s = m_free.back();
        m_free.pop_back();
        m_slots[s].key = key;
        m_slots[s].used = true;
        m_index.emplace(key, s);
    }
    Slot& slot = m_slots[s];
    slot.referenced = true;
    Tail& t = slot.tail;
    t.limited = t.reliable = false;
    t.reason.clear();
    t.reason_count = t.end_count = 0;
    t.entries.clear();
    t.step_counts.clear();
    t.step_entries.clear();
    t.reads.clear();
    t.values.clear();
    t.lo = t.hi = 0;
    t.stack_changes = 0;
    m_last = s;
    return t;
}

void ChainMemo::commit() {
    Slot& slot = m_slots[m_last];
    KLP_CHECK(slot.used, "commit() without insert()");
    m_words -= slot.words;
    slot.words = slot.tail.words();
    m_words += slot.words;
    while (m_words > m_max_words && m_index.size() > 1) {
        release(victim(m_last));
    }
}

void ChainMemo::erase(const Key& key) {
    if (auto it = m_index.find(key); it != m_index.end()) {
        release(it->second);
    }
}

void ChainMemo::clear() {
    m_slots.clear();
    m_free.clear();
    m_index.clear();
    m_hand = 0;
    m_words = 0;
}

ChainWalk::ChainWalk(ChainMemo& memo, ChainMemo::Key base, const StackShadow& stack,
                     const MemoryReader& memory, std::vector<GuestAddr>& reads,
                     std::vector<uint64_t>& values, const uint64_t& outside_reads, Scratch& scratch)
    : m_memo(memo), m_key(base), m_stack(stack), m_memory(memory), m_reads(reads), m_values(values),
      m_outside(outside_reads), m_scratch(scratch) {}

void ChainWalk::step(uint32_t count, size_t entries) {
    m_count = count;
    m_entries = entries;
    if (m_recording) {
        m_scratch.step_counts.push_back(count - m_count0);
        m_scratch.step_entries.push_back(uint32_t(entries - m_entries0));
    }
}

bool ChainWalk::still_holds(ChainMemo::Tail& tail) const {
    if (!StackStoreTracker::unchanged_since(m_stack, tail.stack_changes, tail.reads, tail.lo,
                                            tail.hi) &&
        !StackStoreTracker::still_holds(m_memory, m_stack, tail.reads, tail.values)) {
        return false;
    }
    tail.stack_changes = m_stack.change_count;
    return true;
}

std::optional<ChainHit> ChainWalk::reach(const ChainKey& at, uint32_t limit) {
    const bool first = !m_reached;
    m_reached = true;
    ChainMemo::Key key = m_key;
    key.at = at;
    if (ChainMemo::Tail* t = m_memo.find(key); t != nullptr && !still_holds(*t)) {
        m_memo.erase(key);
    } else if (t != nullptr) {
        // Replay the limit checks of its steps from this walk's count: the entries are the
        // same, the walk may only stop earlier (or, if it stopped at the limit, later).
        size_t steps = t->step_counts.size();
        size_t entries = t->entries.size();
        bool limited = t->limited;
        uint32_t end = t->end_count;
        // Step counts ascend: only a rest whose last step reaches the limit is cut, at its
        // first step that does.
        const bool cut =
            !t->step_counts.empty() && uint64_t(m_count) + t->step_counts.back() >= limit;
        for (size_t i = 0; cut && i < t->step_counts.size(); ++i) {
            if (uint64_t(m_count) + t->step_counts[i] >= limit) {
                steps = i;
                entries = t->step_entries[i];
                limited = true;
                end = t->step_counts[i];
                break;
            }
        }
        const bool goes_on = steps == t->step_counts.size() && t->limited &&
                             uint64_t(m_count) + t->end_count < limit;
        if (!goes_on) {
            ++m_hits;
            // The walk's record of reads must hold the rest's too, for whoever keeps the whole
            // walk; a long rest is not copied when nothing is being recorded here: the whole
            // walk is then not worth keeping (walking again through the memo is cheaper).
            if (m_recording || t->reads.size() <= kCopiedReads) {
                m_reads.insert(m_reads.end(), t->reads.begin(), t->reads.end());
                m_values.insert(m_values.end(), t->values.begin(), t->values.end());
            } else {
                m_uncopied = true;
            }
            if (m_recording) {
                for (size_t i = 0; i < steps; ++i) {
                    m_scratch.step_counts.push_back(m_count - m_count0 + t->step_counts[i]);
                    m_scratch.step_entries.push_back(
                        uint32_t(m_entries - m_entries0 + t->step_entries[i]));
                }
            }
            ChainHit hit;
            hit.entries = std::span<const GuestAddr>(t->entries.data(), entries);
            hit.limited = limited;
            hit.reliable = !limited && t->reliable;
            if (!limited || t->reason_count < end) {
                hit.reason = t->reason;
            }
            hit.reason_count = m_count + t->reason_count;
            hit.end_count = m_count + end;
            return hit;
        }
    }
    if (first) {
        m_recording = true;
        m_key = key;
        m_count0 = m_count;
        m_entries0 = m_entries;
        m_reads0 = m_reads.size();
        m_outside0 = m_outside;
        m_scratch.step_counts.clear();
        m_scratch.step_entries.clear();
    }
    return std::nullopt;
}

void ChainWalk::finish(std::span<const GuestAddr> all, uint32_t count, bool limited, bool reliable,
                       std::string_view reason, uint32_t reason_count, bool storable) {
    if (!m_recording || !storable || m_virtual || m_outside != m_outside0 ||
        all.size() < m_entries0 || count < m_count0) {
        return;
    }
    ChainMemo::Tail& t = m_memo.insert(m_key);
    t.limited = limited;
    t.reliable = reliable;
    t.reason.assign(reason);
    t.reason_count = reason_count >= m_count0 ? reason_count - m_count0 : 0;
    t.end_count = count - m_count0;
    t.entries.assign(all.begin() + ptrdiff_t(m_entries0), all.end());
    t.step_counts = m_scratch.step_counts;
    t.step_entries = m_scratch.step_entries;
    t.reads.assign(m_reads.begin() + ptrdiff_t(m_reads0), m_reads.end());
    t.values.assign(m_values.begin() + ptrdiff_t(m_reads0), m_values.end());
    t.lo = ~0ull;
    t.hi = 0;
    for (GuestAddr r : t.reads) {
        t.lo = std::min(t.lo, r.value);
        t.hi = std::max(t.hi, r.value + 8);
    }
    t.stack_changes = m_stack.change_count;
    m_memo.commit();
    m_recording = false;
}

} // namespace klpemu::unwinder
