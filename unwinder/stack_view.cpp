// The stack view's memory: guest RAM through host pointers, overlaid at an interrupted boundary
// by the pt_regs frame that exception entry (kernel_entry) would have pushed at sp - 336, with
// x29/x30/sp/pc saved and a {0, 0, PT_REGS} metadata record in regs->stackframe.
#include "unwinder/stack_view.h"

#include <cstring>

namespace klpemu::unwinder {

void HostMemory::map(GuestAddr base, const uint8_t* host, uint64_t size) {
    m_regions.push_back(Region{GuestRange{base, base + int64_t(size)}, host});
}

std::optional<uint64_t> HostMemory::read_u64(GuestAddr addr) const {
    for (const Region& r : m_regions) {
        if (addr >= r.range.begin && addr.value + 8 <= r.range.end.value &&
            addr.value + 8 > addr.value) {
            uint64_t v = 0;
            std::memcpy(&v, r.host + (addr - r.range.begin), sizeof v);
            return v;
        }
    }
    return std::nullopt;
}

const uint8_t* HostMemory::host_bytes(GuestAddr addr, uint64_t size) const {
    for (const Region& r : m_regions) {
        if (addr >= r.range.begin && addr.value + size <= r.range.end.value &&
            addr.value + size > addr.value) {
            return r.host + (addr - r.range.begin);
        }
    }
    return nullptr;
}

StackView StackView::interrupted(const Registers& regs, const MemoryReader& memory,
                                 std::span<const KnownStack> stacks, GuestAddr task_pt_regs) {
    StackView v;
    v.stop = StopKind::Interrupted;
    v.regs = regs;
    v.memory = &memory;
    v.stacks = stacks;
    v.task_pt_regs = task_pt_regs;
    v.m_virtual = VirtualPtRegs{regs.sp - int64_t(pt_regs::kSize), regs};
    return v;
}

StackView StackView::blocked(const Registers& regs, const MemoryReader& memory,
                             std::span<const KnownStack> stacks, GuestAddr task_pt_regs,
                             StopKind kind) {
    StackView v;
    v.stop = kind;
    v.regs = regs;
    v.memory = &memory;
    v.stacks = stacks;
    v.task_pt_regs = task_pt_regs;
    return v;
}

std::optional<uint64_t> StackView::read_u64(GuestAddr addr) const {
    if (m_virtual && addr >= m_virtual->addr && addr < m_virtual->addr + int64_t(pt_regs::kSize)) {
        const uint64_t off = uint64_t(addr - m_virtual->addr);
        if (chain != nullptr) {
            chain->virtual_read();
        }
        const Registers& r = m_virtual->regs;
        switch (off) {
        case pt_regs::kX29:
            return r.fp.value;
        case pt_regs::kLr:
            return r.lr.value;
        case pt_regs::kSp:
            return r.sp.value;
        case pt_regs::kPc:
            return r.pc.value;
        case pt_regs::kPstate:
            return 0x5; // EL1h: an exception taken from EL1.
        case pt_regs::kStackframe:
            return 0;
        case pt_regs::kStackframe + 8:
            return 0;
        case pt_regs::kMetaType:
            return uint64_t(FrameMetaType::PtRegs);
        default:
            return 0; // Registers nobody walks; exception entry would have saved them.
        }
    }
    return memory != nullptr ? memory->read_u64(addr) : std::nullopt;
}

const KnownStack* StackView::stack_containing(GuestAddr addr, uint64_t size) const {
    for (const KnownStack& s : stacks) {
        if (addr >= s.range.begin && addr.value + size <= s.range.end.value &&
            addr.value + size >= addr.value) {
            return &s;
        }
    }
    return nullptr;
}

} // namespace klpemu::unwinder
