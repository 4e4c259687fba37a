// Which pages of the kernel's memory the CPUs map (see deferred_pages.h).
#include "emu/deferred_pages.h"

#include "emu/check.h"
#include "emu/guest_memory.h"

#include <algorithm>

namespace klpemu::emu {

void DeferredPages::add_area(GuestRange area) {
    KLP_CHECK(area.begin.value % kPageSize == 0 && area.size() % kPageSize == 0,
              "deferred area {}..{} is not page aligned", area.begin, area.end);
    for (const Area& a : m_areas) {
        KLP_CHECK(!a.range.overlaps(area), "deferred area {}..{} overlaps {}..{}", area.begin,
                  area.end, a.range.begin, a.range.end);
    }
    m_areas.push_back(Area{area, std::vector<bool>(area.size() / kPageSize, false)});
}

const DeferredPages::Area* DeferredPages::find(GuestAddr page) const {
    for (const Area& a : m_areas) {
        if (a.range.contains(page)) {
            return &a;
        }
    }
    return nullptr;
}

const GuestRange* DeferredPages::area_of(GuestAddr page) const {
    const Area* a = find(page);
    return a ? &a->range : nullptr;
}

bool DeferredPages::is_mapped(GuestAddr page) const {
    const Area* a = find(page);
    return a == nullptr || a->mapped[uint64_t(page - a->range.begin) / kPageSize];
}

std::vector<DeferredPages::Run> DeferredPages::runs(GuestRange pages) const {
    KLP_CHECK(pages.begin.value % kPageSize == 0 && pages.size() % kPageSize == 0,
              "page run {}..{} is not page aligned", pages.begin, pages.end);
    std::vector<Run> out;
    const Area* run_area = nullptr;
    for (GuestAddr p = pages.begin; p < pages.end; p += int64_t(kPageSize)) {
        const Area* a = find(p);
        const bool mapped = a == nullptr || a->mapped[uint64_t(p - a->range.begin) / kPageSize];
        if (!out.empty() && out.back().mapped == mapped && (mapped || a == run_area)) {
            out.back().pages.end = p + int64_t(kPageSize);
        } else {
            out.push_back(Run{GuestRange{p, p + int64_t(kPageSize)}, mapped});
        }
        run_area = a;
    }
    return out;
}

void DeferredPages::mark_mapped(GuestRange pages) {
    const Area* found = find(pages.begin);
    KLP_CHECK(found != nullptr && pages.end <= found->range.end,
              "pages {}..{} are not inside one deferred area", pages.begin, pages.end);
    Area& a = m_areas[size_t(found - m_areas.data())];
    for (GuestAddr p = pages.begin; p < pages.end; p += int64_t(kPageSize)) {
        a.mapped[uint64_t(p - a.range.begin) / kPageSize] = true;
    }
}

uint64_t DeferredPages::mapped_pages() const {
    uint64_t n = 0;
    for (const Area& a : m_areas) {
        n += uint64_t(std::count(a.mapped.begin(), a.mapped.end(), true));
    }
    return n;
}

} // namespace klpemu::emu
