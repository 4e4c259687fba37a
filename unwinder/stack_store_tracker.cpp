// See stack_store_tracker.h.
#include "unwinder/stack_store_tracker.h"

#include "emu/check.h"

#include <algorithm>
#include <cstring>

namespace klpemu::unwinder {

StackShadow* StackStoreTracker::track(GuestRange range) {
    KLP_CHECK(range.end.value > range.begin.value, "empty stack tracked");
    auto shadow = std::make_unique<StackShadow>();
    shadow->range = range;
    shadow->bytes.assign(size_t(range.end - range.begin), 0);
    shadow->compared_at_host_work = m_host_work;
    compare_all(*shadow);
    StackShadow* out = shadow.get();
    m_stacks[range.begin.value] = std::move(shadow);
    return out;
}

void StackStoreTracker::untrack(const StackShadow* shadow) {
    std::erase_if(m_stacks, [&](const auto& kv) { return kv.second.get() == shadow; });
}

void StackStoreTracker::log_change(StackShadow& shadow, uint64_t lo, uint64_t hi) {
    ++shadow.change_count;
    shadow.changes[shadow.change_count % StackShadow::kChangeLog] = {lo, hi};
}

// In place: finds the first and last differing byte, copies only that range.
void StackStoreTracker::compare_all(StackShadow& shadow) {
    const size_t n = shadow.bytes.size();
    uint8_t* mine = shadow.bytes.data();
    const uint8_t* now = m_memory.host_bytes(shadow.range.begin, n);
    if (now == nullptr) {
        // Not one host region: read it word by word (tests over a buffer; never the machine).
        std::vector<uint8_t> copy(n, 0);
        for (size_t off = 0; off + 8 <= n; off += 8) {
            const uint64_t v = m_memory.read_u64(shadow.range.begin + int64_t(off)).value_or(0);
            std::memcpy(copy.data() + off, &v, 8);
        }
        now = copy.data();
        if (std::memcmp(mine, now, n) != 0) {
            std::memcpy(mine, now, n);
            log_change(shadow, shadow.range.begin.value, shadow.range.end.value);
        }
        return;
    }
    if (std::memcmp(mine, now, n) == 0) {
        return;
    }
    size_t lo = 0;
    while (mine[lo] == now[lo]) {
        ++lo;
    }
    size_t hi = n;
    while (mine[hi - 1] == now[hi - 1]) {
        --hi;
    }
    std::memcpy(mine + lo, now + lo, hi - lo);
    log_change(shadow, shadow.range.begin.value + lo, shadow.range.begin.value + hi);
}

void StackStoreTracker::bring_up_to_date(StackShadow& shadow) {
    if (shadow.compared_at_host_work != m_host_work) {
        shadow.compared_at_host_work = m_host_work;
        compare_all(shadow);
    }
}

void StackStoreTracker::compare_range(GuestAddr addr, uint64_t size) {
    auto it = m_stacks.upper_bound(addr.value + size - 1);
    if (it == m_stacks.begin()) {
        return;
    }
    --it;
    StackShadow& shadow = *it->second;
    const uint64_t lo = std::max(addr.value, shadow.range.begin.value);
    const uint64_t hi = std::min(addr.value + size, shadow.range.end.value);
    if (lo >= hi) {
        return;
    }
    uint8_t* mine = shadow.bytes.data() + (lo - shadow.range.begin.value);
    const uint8_t* now = m_memory.host_bytes(GuestAddr(lo), hi - lo);
    if (now == nullptr) {
        log_change(shadow, lo, hi); // Not readable as bytes: assume it changed.
        return;
    }
    if (std::memcmp(mine, now, hi - lo) != 0) {
        std::memcpy(mine, now, hi - lo);
        log_change(shadow, lo, hi);
    }
}

void StackStoreTracker::compare_pending(int cpu) {
    for (size_t c = 0; c < m_pending.size(); ++c) {
        PendingStore& p = m_pending[c];
        if (!p.active) {
            continue;
        }
        compare_range(p.addr, p.size);
        // Another CPU's store may not have executed yet (its CPU stopped before it): keep it.
        if (int(c) == cpu) {
            p.active = false;
            --m_active;
        }
    }
}

void StackStoreTracker::note_store(int cpu, const BranchClass& cls, const RegisterReader& regs) {
    const StoreAccess& s = cls.store;
    if (s.mode == StoreMode::None) {
        return;
    }
    if (s.mode == StoreMode::Unknown) {
        host_work(); // Where it wrote is unknown: compare everything, as after host work.
        return;
    }
    uint64_t addr = regs.x(s.rn); // 31 = sp.
    if (s.mode == StoreMode::Offset) {
        addr += uint64_t(s.imm);
    } else if (s.mode == StoreMode::RegOffset) {
        uint64_t index = s.rm == 31 ? 0 : regs.x(s.rm);
        switch (s.option) {
        case 2:
            index = uint32_t(index);
            break;
        case 6:
            index = uint64_t(int64_t(int32_t(uint32_t(index))));
            break;
        default:
            break;
        }
        addr += index << s.shift;
    }
    if (size_t(cpu) >= m_pending.size()) {
        m_pending.resize(size_t(cpu) + 1);
    }
    m_active += m_pending[size_t(cpu)].active ? 0 : 1;
    m_pending[size_t(cpu)] = PendingStore{true, GuestAddr(addr), s.size};
}

bool StackStoreTracker::unchanged_since(const StackShadow& shadow, uint64_t since,
                                        std::span<const GuestAddr> reads, uint64_t lo,
                                        uint64_t hi) {
    if (since == shadow.change_count) {
        return true;
    }
    if (shadow.change_count - since >= StackShadow::kChangeLog) {
        return false; // Too many changes since: the log no longer reaches back.
    }
    for (uint64_t n = since + 1; n <= shadow.change_count; ++n) {
        const auto [clo, chi] = shadow.changes[n % StackShadow::kChangeLog];
        if (chi <= lo || clo >= hi) {
            continue;
        }
        for (GuestAddr r : reads) {
            if (r.value < chi && r.value + 8 > clo) {
                return false;
            }
        }
    }
    return true;
}

bool StackStoreTracker::still_holds(const MemoryReader& memory, const StackShadow& shadow,
                                    std::span<const GuestAddr> reads,
                                    std::span<const uint64_t> values) {
    const uint64_t size = shadow.range.end - shadow.range.begin;
    const uint8_t* host = memory.host_bytes(shadow.range.begin, size);
    for (size_t i = 0; i < reads.size(); ++i) {
        const uint64_t off = reads[i].value - shadow.range.begin.value;
        if (host != nullptr && off <= size - 8) {
            uint64_t v = 0;
            std::memcpy(&v, host + off, sizeof v);
            if (v != values[i]) {
                return false;
            }
        } else if (memory.read_u64(reads[i]) != values[i]) {
            return false;
        }
    }
    return true;
}

} // namespace klpemu::unwinder
