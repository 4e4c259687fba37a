// FastPipeline (see fast_pipeline.h): llvm-mca's in-order pipeline reduced to per-instruction
// timeline arithmetic; out-of-order cores are handed to OutOfOrderPipeline. This runs at every
// guest instruction: the in-order path (the default core) touches only a few words of state per
// instruction.
#include "emu/fast_pipeline.h"

#include "emu/check.h"

#include <algorithm>
#include <bit>
#include <limits>

namespace klpemu {

FastPipeline::FastPipeline(const SchedTables& tables)
    : m_tables(&tables), m_in_order(tables.in_order()), m_width(tables.issue_width) {
    KLP_CHECK(tables.num_units <= kMaxUnits, "{}: {} resource units", tables.core,
              tables.num_units);
    if (!m_in_order) {
        m_ooo = std::make_unique<OutOfOrderPipeline>(tables);
    }
}

inline uint64_t FastPipeline::operands_ready(const InsnCost& cost, uint64_t from) const {
    // A fixed number of reads (unused ones read kUnreadSlot, group 0 advances nothing) keeps
    // the host's branch predictor out of it.
    int64_t t = int64_t(from);
    const SchedTables::AdvanceGroup* groups = m_tables->advance.data();
    auto one = [&](const SchedRead r) {
        const SlotState& slot = m_slots[r.slot];
        t = std::max(t, int64_t(slot.ready) - groups[r.advance_group].advance(slot.writer));
    };
    one(cost.reads[0]);
    one(cost.reads[1]);
    one(cost.reads[2]);
    one(cost.reads[3]);
    for (unsigned i = 4; i < cost.num_reads; ++i) {
        one(cost.reads[i]);
    }
    return uint64_t(t);
}

inline void FastPipeline::write_back(const InsnCost& cost, uint64_t issue) {
    static_assert(std::tuple_size_v<decltype(cost.writes)> == 3);
    for (const SchedWrite& w : cost.writes) { // Unused writes go to kUnwrittenSlot.
        m_slots[w.slot] = SlotState{issue + w.latency, w.write_resource};
    }
    m_last_done = issue + cost.latency;
    m_all_done = std::max(m_all_done, m_last_done);
}

// In order: the earliest cycle >= from at which each usage finds `needed` units of its pool
// past their last booking.
inline uint64_t FastPipeline::units_free_in_order(const InsnCost& cost, uint64_t from) const {
    uint64_t t = from;
    const SchedTables::Pool* pools = m_tables->pools.data();
    for (unsigned i = 0; i < cost.num_units; ++i) {
        const SchedTables::Pool& pool = pools[cost.units[i].pool];
        if (pool.needed != 1) [[unlikely]] {
            t = std::max(t, nth_unit_free(pool.units, pool.needed));
            continue;
        }
        uint64_t earliest = ~uint64_t(0);
        for (uint64_t u = pool.units; u != 0; u &= u - 1) {
            earliest = std::min(earliest, m_unit_end[unsigned(std::countr_zero(u))]);
        }
        t = std::max(t, earliest);
    }
    return t;
}

// The cycle from which `needed` of `units` are past their last booking.
uint64_t FastPipeline::nth_unit_free(uint64_t units, unsigned needed) const {
    std::array<uint64_t, kMaxUnits> ends{};
    unsigned n = 0;
    for (uint64_t u = units; u != 0; u &= u - 1) {
        ends[n++] = m_unit_end[unsigned(std::countr_zero(u))];
    }
    const unsigned k = std::min(needed, n) - 1;
    std::nth_element(ends.begin(), ends.begin() + k, ends.begin() + n);
    return ends[k];
}

inline void FastPipeline::book_units_in_order(const InsnCost& cost, uint64_t cycle) {
    const SchedTables::Pool* pools = m_tables->pools.data();
    for (unsigned i = 0; i < cost.num_units; ++i) {
        const SchedUnitUse use = cost.units[i];
        unsigned left = pools[use.pool].needed;
        for (uint64_t u = pools[use.pool].units; u != 0 && left != 0; u &= u - 1) {
            uint64_t& end = m_unit_end[unsigned(std::countr_zero(u))];
            if (end <= cycle) {
                end = cycle + use.cycles;
                --left;
            }
        }
    }
}

uint64_t FastPipeline::account_in_order(const InsnCost& cost) {
    const unsigned width = m_width;
    uint64_t t = std::max(m_cycle, m_fetch_ready);
    if (t == m_cycle) {
        const bool fits = cost.uops > width ? m_slots_used == 0 : m_slots_used + cost.uops <= width;
        if (!fits || (cost.begin_group && m_slots_used != 0)) {
            ++t;
        }
    }
    t = operands_ready(cost, t);
    if (!cost.retire_ooo && m_writeback_deadline > t + cost.first_writeback) {
        t = m_writeback_deadline - cost.first_writeback; // Write-back stays in program order.
    }
    t = units_free_in_order(cost, t);
    book_units_in_order(cost, t);
    write_back(cost, t);
    if (t != m_cycle) {
        m_cycle = t;
        m_slots_used = 0;
    }
    if (cost.uops > width) [[unlikely]] {
        // Issued over several cycles; the next instruction starts after the carried-over part.
        m_cycle += (cost.uops - 1) / width;
        m_slots_used = (cost.uops - 1) % width + 1;
    } else {
        m_slots_used += cost.uops;
    }
    if (cost.end_group) [[unlikely]] {
        m_slots_used = width;
    }
    if (!cost.retire_ooo && cost.latency != 0) {
        m_writeback_deadline = t + cost.latency;
    }
    const uint64_t before = m_total;
    m_total = std::max(m_total, t + 1);
    return m_total - before;
}

namespace {
template <typename T> bool fits(int64_t v) {
    return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
}
} // namespace

std::optional<InOrderState> FastPipeline::relative_state() const {
    KLP_CHECK(m_in_order, "relative state of an out-of-order pipeline");
    const int64_t base = int64_t(m_cycle);
    auto rel = [base](uint64_t v) { return int64_t(v) - base; };
    InOrderState s;
    const int64_t scalars[] = {std::max<int64_t>(0, rel(m_fetch_ready)),
                               std::max<int64_t>(0, rel(m_writeback_deadline)), rel(m_last_done),
                               std::max<int64_t>(1, rel(m_all_done)), rel(m_total)};
    for (int64_t v : scalars) {
        if (!fits<int32_t>(v)) {
            return std::nullopt;
        }
    }
    s.fetch_ready = int32_t(scalars[0]);
    s.slots_used = int32_t(m_slots_used);
    s.writeback_deadline = int32_t(scalars[1]);
    s.last_done = int32_t(scalars[2]);
    s.all_done = int32_t(scalars[3]);
    s.total = int32_t(scalars[4]);
    // A read waits for max(t, ready - advance) with t >= m_cycle and advance >= -max_read_delay:
    // a value ready at or before m_cycle - max_read_delay never holds anything back, whoever
    // wrote it.
    const int64_t dead = -int64_t(m_tables->max_read_delay);
    for (unsigned i = 0; i < kNumSlots; ++i) {
        const int64_t r = rel(m_slots[i].ready);
        if (r <= dead || i == kUnwrittenSlot) {
            s.slot_ready[i] = int16_t(dead);
            s.slot_writer[i] = 0;
            continue;
        }
        if (!fits<int16_t>(r)) {
            return std::nullopt;
        }
        s.slot_ready[i] = int16_t(r);
        s.slot_writer[i] = m_slots[i].writer;
    }
    // A unit free at or before m_cycle is free for every later issue cycle.
    for (unsigned u = 0; u < InOrderState::kUnits; ++u) {
        const int64_t e = std::max<int64_t>(0, rel(m_unit_end[u]));
        if (!fits<int16_t>(e)) {
            return std::nullopt;
        }
        s.unit_end[u] = int16_t(e);
    }
    return s;
}

void FastPipeline::set_relative_state(const InOrderState& s, uint64_t cycle) {
    KLP_CHECK(m_in_order, "relative state of an out-of-order pipeline");
    // Only the never-read kUnwrittenSlot can come out below cycle 0 (a "long ago" value is
    // reached only once that many cycles have passed); clamp it.
    auto abs = [cycle](int64_t r) { return uint64_t(std::max<int64_t>(0, int64_t(cycle) + r)); };
    m_cycle = cycle;
    m_fetch_ready = abs(s.fetch_ready);
    m_slots_used = unsigned(s.slots_used);
    m_writeback_deadline = abs(s.writeback_deadline);
    m_last_done = abs(s.last_done);
    m_all_done = abs(s.all_done);
    m_total = abs(s.total);
    for (unsigned i = 0; i < kNumSlots; ++i) {
        m_slots[i] = SlotState{abs(s.slot_ready[i]), s.slot_writer[i]};
    }
    for (unsigned u = 0; u < InOrderState::kUnits; ++u) {
        m_unit_end[u] = abs(s.unit_end[u]);
    }
}

void FastPipeline::mispredict(unsigned penalty) {
    if (!m_in_order) {
        m_ooo->mispredict(penalty);
        return;
    }
    m_fetch_ready = std::max(m_fetch_ready, m_last_done + penalty);
}

void FastPipeline::fetch_stall(unsigned cycles) {
    if (!m_in_order) {
        m_ooo->fetch_stall(cycles);
        return;
    }
    m_fetch_ready = std::max(m_fetch_ready, std::max(m_cycle, m_fetch_ready) + cycles);
}

uint64_t FastPipeline::serialize(unsigned extra) {
    if (!m_in_order) {
        return m_ooo->serialize(extra);
    }
    const uint64_t before = m_total;
    m_total = std::max({m_total, m_all_done, m_cycle + 1}) + extra;
    m_fetch_ready = std::max(m_fetch_ready, m_total);
    return m_total - before;
}

} // namespace klpemu
