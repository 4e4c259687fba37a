// Which pages of the kernel image area the CPUs map (see kernel_image_pages.h).
#include "emu/kernel_image_pages.h"

#include "emu/check.h"
#include "emu/guest_memory.h"

#include <algorithm>

namespace klpemu::emu {

KernelImagePages::KernelImagePages(GuestRange area)
    : m_area(area), m_mapped(area.size() / kPageSize, false) {
    KLP_CHECK(area.begin.value % kPageSize == 0 && area.size() % kPageSize == 0,
              "kernel image area {}..{} is not page aligned", area.begin, area.end);
}

bool KernelImagePages::is_mapped(GuestAddr page) const {
    if (!m_area.contains(page)) {
        return true;
    }
    return m_mapped[uint64_t(page - m_area.begin) / kPageSize];
}

std::vector<KernelImagePages::Run> KernelImagePages::runs(GuestRange pages) const {
    KLP_CHECK(pages.begin.value % kPageSize == 0 && pages.size() % kPageSize == 0,
              "page run {}..{} is not page aligned", pages.begin, pages.end);
    std::vector<Run> out;
    for (GuestAddr p = pages.begin; p < pages.end; p += int64_t(kPageSize)) {
        const bool mapped = is_mapped(p);
        if (!out.empty() && out.back().mapped == mapped) {
            out.back().pages.end = p + int64_t(kPageSize);
        } else {
            out.push_back(Run{GuestRange{p, p + int64_t(kPageSize)}, mapped});
        }
    }
    return out;
}

void KernelImagePages::mark_mapped(GuestRange pages) {
    KLP_CHECK(pages.begin >= m_area.begin && pages.end <= m_area.end,
              "pages {}..{} are outside the kernel image area", pages.begin, pages.end);
    for (GuestAddr p = pages.begin; p < pages.end; p += int64_t(kPageSize)) {
        m_mapped[uint64_t(p - m_area.begin) / kPageSize] = true;
    }
}

uint64_t KernelImagePages::mapped_pages() const {
    return uint64_t(std::count(m_mapped.begin(), m_mapped.end(), true));
}

} // namespace klpemu::emu
