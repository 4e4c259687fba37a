// Which pages of the kernel image area the CPUs' MMUs map. arm64 Linux maps vmlinux one segment
// at a time, each with its own permissions (arch/arm64/mm/mmu.c: map_kernel() calls
// map_kernel_segment() for text, rodata, init text, init data and data), and nothing between
// the end of the image and the next mapping. klpemu does the same: the host keeps one buffer for
// the whole 32 MiB area (GuestMemory's "kernel" region, so the patcher and the unwinder read it
// through one host pointer), but a CPU's Unicorn instance maps only the pages an object was
// loaded into, each run of pages as its own Unicorn region with its permission from the start.
//
// The reason is cost as much as fidelity. Unicorn 2.0.1 changes the permission of part of a
// region by unmapping the whole region and mapping the pieces again (split_region), flushing
// its TLB page by page: with one 32 MiB region, every object's strict-RWX protect flushed 8,192
// pages on every CPU, ≈ 40 % of the bundled library's CPU time (bench/RESULTS.md). A protect
// that covers whole regions splits nothing.
#pragma once

#include "emu/guest_addr.h"

#include <cstdint>
#include <vector>

namespace klpemu::emu {

class KernelImagePages {
  public:
    // `area` is page aligned.
    explicit KernelImagePages(GuestRange area);

    struct Run {
        GuestRange pages;
        bool mapped = true; // False: inside the area and not yet mapped in Unicorn.
    };
    // `pages` (page aligned) cut where "already mapped" changes. Pages outside the area count
    // as mapped (their region was mapped whole when it was created).
    std::vector<Run> runs(GuestRange pages) const;
    // Records that `pages` (page aligned, inside the area) are now mapped.
    void mark_mapped(GuestRange pages);
    bool is_mapped(GuestAddr page) const;
    // Pages of the area mapped so far.
    uint64_t mapped_pages() const;

  private:
    GuestRange m_area;
    std::vector<bool> m_mapped; // One per page of the area.
};

} // namespace klpemu::emu
