// The text guard's bookkeeping (see text_guard.h).
#include "emu/text_guard.h"

#include <algorithm>
#include <cstring>

namespace klpemu::emu {

bool TextGuard::update(uint64_t addr, InsnWord w) {
    const bool bad = m_classifier.traps(w);
    if (bad) {
        return m_traps.insert(addr).second;
    }
    return m_traps.erase(addr) != 0;
}

bool TextGuard::forget(uint64_t begin, uint64_t end) {
    const auto first = m_traps.lower_bound(begin);
    const auto last = m_traps.lower_bound(end);
    if (first == last) {
        return false;
    }
    m_traps.erase(first, last);
    return true;
}

bool TextGuard::executable_page(uint64_t page) const {
    // Memory mapped without a recorded permission is taken as executable (the safe side).
    const MemoryPermissions::Entry* e = m_permissions.at(GuestAddr(page));
    return e == nullptr || allows(e->perm, Perm::Exec);
}

bool TextGuard::rescan(GuestAddr begin, GuestAddr end) {
    bool changed = false;
    uint64_t a = begin.align_down(kInsnSize).value;
    while (a < end.value) {
        const MemoryRegion* r = m_memory.region_at(GuestAddr(a));
        if (!r) {
            a += kInsnSize;
            continue;
        }
        const uint64_t region_stop = std::min(end.value, r->range.end.value);
        if (!r->executable) {
            a = region_stop; // Never holds a trap.
            continue;
        }
        const uint64_t page_end = GuestAddr(a).align_down(kPageSize).value + kPageSize;
        const uint64_t stop = std::min(region_stop, page_end);
        if (!executable_page(a)) {
            changed |= forget(a, stop);
            a = stop;
            continue;
        }
        const uint8_t* p = r->host + (a - r->range.begin.value);
        for (; a < stop; a += kInsnSize, p += kInsnSize) {
            uint32_t w = 0;
            std::memcpy(&w, p, 4);
            changed |= update(a, InsnWord(w));
        }
    }
    return changed;
}

std::optional<std::pair<InsnWord, WordClass>> TextGuard::classify_at(uint64_t pc) {
    const std::optional<InsnWord> w = m_memory.insn_word(GuestAddr(pc));
    if (!w) {
        return std::nullopt;
    }
    return std::pair{*w, m_classifier.classify(*w)};
}

std::vector<uint64_t> TextGuard::exits() const {
    std::vector<uint64_t> out;
    out.reserve(m_traps.size());
    out.insert(out.end(), m_traps.begin(), m_traps.end());
    return out;
}

} // namespace klpemu::emu
