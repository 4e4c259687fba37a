// Which pages of the kernel's memory the CPUs' MMUs map. arm64 Linux maps vmlinux one segment
// at a time, each with its own permissions (arch/arm64/mm/mmu.c: map_kernel() calls
// map_kernel_segment() for text, rodata, init text, init data and data), and nothing between
// the end of the image and the next mapping; a module's memory gets its permissions section by
// section once it is loaded (module_enable_rodata_ro, module_enable_text_rox). klpemu does the
// same: the host keeps one buffer per area (GuestMemory's "kernel" region for the whole 32 MiB
// image area, one region per module allocation), so the patcher and the unwinder read it
// through one host pointer, but a CPU's Unicorn instance maps a page of a deferred area only
// when its permission is known, each run of pages as its own Unicorn region with its
// permission from the start.
//
// The reason is cost as much as fidelity. Unicorn 2.0.1 changes the permission of part of a
// region by unmapping the whole region and mapping the pieces again (split_region): with one
// 32 MiB region, every object's strict-RWX protect flushed 8,192 pages on every CPU, ≈ 40 % of
// the bundled library's CPU time, and a module region mapped whole and then split cost ≈ 4 %
// more (bench/RESULTS.md). A protect that covers whole regions splits nothing.
#pragma once

#include "emu/guest_addr.h"

#include <cstdint>
#include <vector>

namespace klpemu::emu {

class DeferredPages {
  public:
    // Adds a page-aligned area none of whose pages is mapped yet; areas never overlap.
    void add_area(GuestRange area);

    struct Run {
        GuestRange pages;
        bool mapped = true; // False: inside a deferred area and not yet mapped in Unicorn.
    };
    // `pages` (page aligned) cut where "already mapped" changes and at every area boundary, so
    // an unmapped run lies in one area (one host buffer). Pages outside every area count as
    // mapped (their region was mapped whole when it was created).
    std::vector<Run> runs(GuestRange pages) const;
    // Records that `pages` (page aligned, inside one area) are now mapped.
    void mark_mapped(GuestRange pages);
    bool is_mapped(GuestAddr page) const;
    // The area holding `page`, if any.
    const GuestRange* area_of(GuestAddr page) const;
    // Pages of all areas mapped so far.
    uint64_t mapped_pages() const;

  private:
    struct Area {
        GuestRange range;
        std::vector<bool> mapped; // One per page.
    };
    const Area* find(GuestAddr page) const;
    std::vector<Area> m_areas;
};

} // namespace klpemu::emu
