// See walk_memo.h.
#include "unwinder/walk_memo.h"

#include "emu/check.h"

namespace klpemu::unwinder {

WalkMemo::WalkMemo(size_t capacity) : m_capacity(capacity) {
    KLP_CHECK(capacity > 0 && capacity < kNone, "walk memo capacity {}", capacity);
}

MemoizedWalk& WalkMemo::use(uint32_t s, Hint& hint) {
    m_slots[s].referenced = true;
    hint = Hint{this, s, m_slots[s].serial};
    m_last_hint = hint;
    return m_slots[s].walk;
}

uint32_t WalkMemo::victim() {
    for (;;) {
        const uint32_t s = m_hand;
        m_hand = uint32_t((m_hand + 1) % m_slots.size());
        if (!m_slots[s].referenced) {
            return s;
        }
        m_slots[s].referenced = false;
    }
}

void WalkMemo::for_each(const std::function<void(MemoizedWalk&)>& fn) {
    for (Slot& s : m_slots) {
        fn(s.walk);
    }
}

MemoizedWalk& WalkMemo::find_or_insert(const WalkKey& key, Hints& hints) {
    if (hit(hints.way[0], key)) {
        return use(hints.way[0].slot, hints.way[0]);
    }
    if (hit(hints.way[1], key)) {
        return use(hints.way[1].slot, hints.way[1]);
    }
    Hint& hint = hints.way[hints.next];
    hints.next ^= 1;
    if (auto it = m_index.find(key); it != m_index.end()) {
        return use(it->second, hint);
    }
    uint32_t s = 0;
    if (m_slots.size() < m_capacity) {
        s = uint32_t(m_slots.size());
        m_slots.emplace_back();
    } else {
        s = victim();
        m_index.erase(m_slots[s].key);
    }
    Slot& slot = m_slots[s];
    slot.key = key;
    slot.serial = ++m_serial;
    // Reset, keeping the buffers' capacity.
    MemoizedWalk& w = slot.walk;
    w.stack_changes = 0;
    w.reusable = true;
    w.reads.clear();
    w.values.clear();
    w.lo = w.hi = 0;
    w.graph.clear();
    w.walked = false; // `traces` keep their buffers for the next walk.
    w.truth_content = ~0ull; // `outcomes`, `pending` and `pending_row` are the owner's to count.
    w.unsound = 0;
    m_index.emplace(key, s);
    slot.referenced = true;
    hint = Hint{this, s, slot.serial};
    m_last_hint = hint;
    return w;
}

void WalkMemo::clear() {
    m_slots.clear();
    m_index.clear();
    m_hand = 0;
}

} // namespace klpemu::unwinder
