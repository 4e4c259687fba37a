// Guest RAM regions: anonymous mmap allocations (page aligned, zero filled on first touch, so an
// 8-CPU machine with dozens of 16 KiB task stacks costs only the pages it uses) looked up by
// guest address. See guest_memory.h for why klpemu owns guest RAM.
#include "emu/guest_memory.h"

#include <algorithm>

#include <sys/mman.h>

namespace klpemu::emu {

GuestMemory::~GuestMemory() {
    for (auto& r : m_regions) {
        munmap(r->host, r->range.size());
    }
}

Result<const MemoryRegion*> GuestMemory::add_region(std::string name, GuestAddr base, uint64_t size,
                                                    bool executable) {
    if (!base.is_aligned(kPageSize) || size == 0 || size % kPageSize != 0) {
        return make_error("guest memory: region '{}' at {} size {:#x} is not page aligned", name,
                          base, size);
    }
    GuestRange range{base, base + int64_t(size)};
    if (range.end <= range.begin) {
        return make_error("guest memory: region '{}' at {} wraps the address space", name, base);
    }
    for (auto& r : m_regions) {
        if (r->range.overlaps(range)) {
            return make_error("guest memory: region '{}' at {} overlaps '{}' at {}", name, base,
                              r->name, r->range.begin);
        }
    }
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return make_error("guest memory: cannot allocate {:#x} bytes for '{}'", size, name);
    }
    auto region = std::make_unique<MemoryRegion>();
    region->name = std::move(name);
    region->range = range;
    region->host = static_cast<uint8_t*>(p);
    region->executable = executable;
    const MemoryRegion* added = region.get();
    m_regions.push_back(std::move(region));
    m_by_address.insert(
        std::upper_bound(m_by_address.begin(), m_by_address.end(), base,
                         [](GuestAddr a, const MemoryRegion* r) { return a < r->range.begin; }),
        added);
    return added;
}

const MemoryRegion* GuestMemory::region_at(GuestAddr addr) const {
    if (m_last && m_last->range.contains(addr)) {
        return m_last;
    }
    // The last region starting at or below addr is the only one that can contain it.
    auto it =
        std::upper_bound(m_by_address.begin(), m_by_address.end(), addr,
                         [](GuestAddr a, const MemoryRegion* r) { return a < r->range.begin; });
    if (it == m_by_address.begin() || !(*std::prev(it))->range.contains(addr)) {
        return nullptr;
    }
    m_last = *std::prev(it);
    return m_last;
}

uint8_t* GuestMemory::host_ptr(GuestAddr addr, uint64_t size) const {
    const MemoryRegion* r = region_at(addr);
    if (!r || size > uint64_t(r->range.end - addr)) {
        return nullptr;
    }
    return r->host + (addr - r->range.begin);
}

Result<void> GuestMemory::read(GuestAddr addr, void* out, uint64_t size) const {
    const uint8_t* p = host_ptr(addr, size);
    if (!p) {
        return make_error("guest memory: read of {} bytes at {} is unmapped", size, addr);
    }
    std::memcpy(out, p, size);
    return {};
}

Result<void> GuestMemory::write(GuestAddr addr, const void* in, uint64_t size) {
    uint8_t* p = host_ptr(addr, size);
    if (!p) {
        return make_error("guest memory: write of {} bytes at {} is unmapped", size, addr);
    }
    std::memcpy(p, in, size);
    if (m_on_write) {
        m_on_write(addr, size);
    }
    return {};
}

} // namespace klpemu::emu
