// The strict-RWX permission model (see memory_permissions.h).
#include "emu/memory_permissions.h"

#include "emu/result.h"

namespace klpemu::emu {

std::string perm_str(Perm p) {
    std::string s = "---";
    if (allows(p, Perm::Read)) {
        s[0] = 'r';
    }
    if (allows(p, Perm::Write)) {
        s[1] = 'w';
    }
    if (allows(p, Perm::Exec)) {
        s[2] = 'x';
    }
    return s;
}

Perm section_permission(SectionKind kind) {
    switch (kind) {
    case SectionKind::Text:
    case SectionKind::Plt:
        return Perm::ReadExec;
    case SectionKind::ROData:
        return Perm::Read;
    case SectionKind::Data:
    case SectionKind::Bss:
    case SectionKind::Other:
        return Perm::ReadWrite;
    }
    return Perm::ReadWrite;
}

void MemoryPermissions::set(GuestRange range, Perm perm, std::string what) {
    KLP_CHECK(range.begin < range.end, "empty permission range at {}", range.begin);
    // Cut every entry overlapping `range` down to its parts outside it.
    auto it = m_entries.lower_bound(range.begin.value);
    if (it != m_entries.begin()) {
        --it;
    }
    while (it != m_entries.end() && it->second.range.begin < range.end) {
        Entry old = it->second;
        if (!old.range.overlaps(range)) {
            ++it;
            continue;
        }
        it = m_entries.erase(it);
        if (old.range.begin < range.begin) {
            m_entries[old.range.begin.value] =
                Entry{GuestRange{old.range.begin, range.begin}, old.perm, old.what};
        }
        if (range.end < old.range.end) {
            m_entries[range.end.value] =
                Entry{GuestRange{range.end, old.range.end}, old.perm, old.what};
        }
    }
    m_entries[range.begin.value] = Entry{range, perm, std::move(what)};
}

const MemoryPermissions::Entry* MemoryPermissions::at(GuestAddr addr) const {
    auto it = m_entries.upper_bound(addr.value);
    if (it == m_entries.begin()) {
        return nullptr;
    }
    --it;
    return it->second.range.contains(addr) ? &it->second : nullptr;
}

} // namespace klpemu::emu
