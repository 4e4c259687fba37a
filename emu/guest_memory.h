// Guest RAM as host memory klpemu owns. The kernel's memory is one physical store that every CPU
// sees; Unicorn has no shared-memory API, so each region is allocated here (page aligned, zero
// filled lazily by mmap) and mapped into every CPU instance with uc_mem_map_ptr. Checkers and
// unwinders then read guest memory through plain host pointers, without copying and without
// asking any CPU (reference/unicorn-and-peers.md §1.4).
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"
#include "emu/result.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace klpemu::emu {

inline constexpr uint64_t kPageSize = 4096;

struct MemoryRegion {
    std::string name;   // e.g. "kernel", "stack:worker", "module-near".
    GuestRange range;   // Page aligned.
    uint8_t* host = nullptr;
    bool executable = true;
};

class GuestMemory {
  public:
    GuestMemory() = default;
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;
    ~GuestMemory();

    // Allocates a zero-filled, page-aligned region of `size` bytes at `base`. Fails on overlap or
    // misalignment. The region lives as long as this object.
    Result<const MemoryRegion*> add_region(std::string name, GuestAddr base, uint64_t size,
                                           bool executable = true);

    // The region containing `addr`, or nullptr.
    const MemoryRegion* region_at(GuestAddr addr) const;

    // Host pointer for [addr, addr+size) if it lies inside one region, else nullptr.
    uint8_t* host_ptr(GuestAddr addr, uint64_t size = 1) const;

    // True if [addr, addr+size) lies inside one region.
    bool is_mapped(GuestAddr addr, uint64_t size = 1) const { return host_ptr(addr, size); }

    // The instruction word at `pc` as memory holds it; nullopt where nothing is mapped.
    std::optional<InsnWord> insn_word(GuestAddr pc) const {
        const uint8_t* p = host_ptr(pc, 4);
        if (p == nullptr) {
            return std::nullopt;
        }
        uint32_t w = 0;
        std::memcpy(&w, p, 4);
        return InsnWord(w);
    }

    // Copies guest bytes; fails if the range is not mapped.
    Result<void> read(GuestAddr addr, void* out, uint64_t size) const;
    Result<void> write(GuestAddr addr, const void* in, uint64_t size);

    // Typed little-endian access; a failed access is a klpemu bug (KLP_CHECK).
    template <typename T> T load(GuestAddr addr) const {
        T v{};
        const uint8_t* p = host_ptr(addr, sizeof(T));
        KLP_CHECK(p != nullptr, "guest load of {} bytes at {} is unmapped", sizeof(T), addr);
        std::memcpy(&v, p, sizeof(T));
        return v;
    }
    template <typename T> void store(GuestAddr addr, T v) {
        uint8_t* p = host_ptr(addr, sizeof(T));
        KLP_CHECK(p != nullptr, "guest store of {} bytes at {} is unmapped", sizeof(T), addr);
        std::memcpy(p, &v, sizeof(T));
        if (m_on_write) {
            m_on_write(addr, sizeof(T));
        }
    }

    // Called after every write()/store() with the written range (the machine's text guard
    // reclassifies executable words there). Writes through host_ptr() are not seen.
    void set_write_listener(std::function<void(GuestAddr, uint64_t)> f) {
        m_on_write = std::move(f);
    }

    const std::vector<std::unique_ptr<MemoryRegion>>& regions() const { return m_regions; }

  private:
    std::vector<std::unique_ptr<MemoryRegion>> m_regions;
    // The regions by address, for a binary search: a machine with many tasks has a region per
    // task stack, and the store tracker alternates between stacks and the kernel image.
    std::vector<const MemoryRegion*> m_by_address;
    mutable const MemoryRegion* m_last = nullptr; // Lookup cache: most accesses hit one region.
    std::function<void(GuestAddr, uint64_t)> m_on_write;
};

} // namespace klpemu::emu
