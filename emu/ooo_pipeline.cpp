// OutOfOrderPipeline (see ooo_pipeline.h): llvm-mca's default pipeline stepped one cycle at a
// time over InsnCost facts. Instructions in flight live in a ring indexed by sequence number;
// the ring is larger than any reorder buffer, so a reader still in flight can always look up
// the writer it was renamed to.
#include "emu/ooo_pipeline.h"

#include "emu/check.h"

#include <algorithm>
#include <bit>

namespace klpemu {

OutOfOrderPipeline::OutOfOrderPipeline(const SchedTables& tables)
    : m_tables(&tables), m_width(tables.issue_width),
      m_rob_size(std::min<unsigned>(tables.reorder_buffer, kRing / 2)), m_available(m_width),
      m_ops(kRing) {
    KLP_CHECK(!tables.in_order(), "{}: out-of-order pipeline for an in-order core", tables.core);
    KLP_CHECK(tables.num_units <= m_unit_free.size(), "{}: {} resource units", tables.core,
              tables.num_units);
    m_waiting.reserve(kRing);
}

bool OutOfOrderPipeline::can_dispatch(const InsnCost& cost) const {
    if (m_cycle < m_fetch_ready) {
        return false;
    }
    if (m_gate != kNone) {
        const Op& branch = op(m_gate);
        if (branch.issued == kNone || m_cycle < branch.issued + branch.latency + m_gate_penalty) {
            return false;
        }
    }
    // llvm-mca's DispatchStage: min(uops, width) slots, a group start needs a fresh cycle.
    if (std::min<unsigned>(cost.uops, m_width) > m_available) {
        return false;
    }
    if (cost.begin_group && m_available != m_width) {
        return false;
    }
    const unsigned tokens = std::max(1u, std::min<unsigned>(cost.uops, m_rob_size));
    return m_rob_used + tokens <= m_rob_size;
}

void OutOfOrderPipeline::dispatch(const InsnCost& cost) {
    const uint64_t seq = m_next++;
    Op& o = op(seq);
    o = Op{};
    o.latency = cost.latency;
    o.tokens = uint16_t(std::max(1u, std::min<unsigned>(cost.uops, m_rob_size)));
    o.is_load = cost.is_load;
    o.is_store = cost.is_store;
    o.num_units = cost.num_units;
    o.units = cost.units;
    o.num_writes = cost.num_writes;
    o.writes = cost.writes;
    const SchedTables::AdvanceGroup* groups = m_tables->advance.data();
    for (unsigned i = 0; i < cost.num_reads; ++i) {
        const SchedRead r = cost.reads[i];
        const Rename& from = m_rename[r.slot];
        Dep& d = o.deps[o.num_deps++];
        d.group = r.advance_group;
        d.latency = from.latency;
        d.writer = from.writer;
        if (from.producer != kNone) {
            d.producer = from.producer;
            Op& p = op(from.producer);
            if (p.issued == kNone) {
                ++p.users; // llvm-mca's WriteState users: readers waiting for its issue.
            }
        } else {
            d.ready = int64_t(from.ready) - groups[r.advance_group].advance(from.writer);
        }
    }
    for (unsigned i = 0; i < cost.num_writes; ++i) {
        const SchedWrite& w = cost.writes[i];
        m_rename[w.slot] = Rename{seq, 0, w.latency, w.write_resource};
    }
    if (o.is_store) {
        o.store_dep = m_last_store != kNone && m_last_store >= m_head ? m_last_store : kNone;
        m_last_store = seq;
    }
    if (cost.uops > m_width) {
        m_available = 0;
        m_carry = cost.uops - m_width;
    } else {
        m_available -= cost.uops;
    }
    if (cost.end_group) {
        m_available = 0;
    }
    m_rob_used += o.tokens;
    // A zero-latency instruction without resources that is ready at dispatch is never queued
    // (llvm-mca's Scheduler::mustIssueImmediately).
    if (o.latency == 0 && o.num_units == 0 && !o.is_store && ready(o, seq, kNone)) {
        o.issued = m_cycle;
        return;
    }
    m_waiting.push_back(seq);
}

bool OutOfOrderPipeline::ready(const Op& o, uint64_t seq, uint64_t oldest_load) const {
    const SchedTables::AdvanceGroup* groups = m_tables->advance.data();
    const int64_t now = int64_t(m_cycle);
    for (unsigned i = 0; i < o.num_deps; ++i) {
        const Dep& d = o.deps[i];
        int64_t at = d.ready;
        if (d.producer != kNone) {
            const Op& p = op(d.producer);
            if (p.issued == kNone) {
                return false;
            }
            at = int64_t(p.issued) + d.latency - groups[d.group].advance(d.writer);
        }
        if (at > now) {
            return false;
        }
    }
    if (o.is_store) {
        // No alias assumed: a store issues only once older loads and the previous store have
        // issued (llvm-mca's LSUnit memory groups, order dependences only).
        if (oldest_load < seq) {
            return false;
        }
        if (o.store_dep != kNone && op(o.store_dep).issued == kNone) {
            return false;
        }
    }
    return true;
}

bool OutOfOrderPipeline::units_free(const Op& o) const {
    const SchedTables::Pool* pools = m_tables->pools.data();
    for (unsigned i = 0; i < o.num_units; ++i) {
        const SchedTables::Pool& pool = pools[o.units[i].pool];
        unsigned free = 0;
        for (uint64_t u = pool.units; u != 0; u &= u - 1) {
            free += m_unit_free[unsigned(std::countr_zero(u))] <= m_cycle ? 1 : 0;
        }
        if (free < pool.needed) {
            return false;
        }
    }
    return true;
}

void OutOfOrderPipeline::book_units(const Op& o) {
    const SchedTables::Pool* pools = m_tables->pools.data();
    for (unsigned i = 0; i < o.num_units; ++i) {
        const SchedUnitUse use = o.units[i];
        unsigned left = pools[use.pool].needed;
        for (uint64_t u = pools[use.pool].units; u != 0 && left != 0; u &= u - 1) {
            uint64_t& free_at = m_unit_free[unsigned(std::countr_zero(u))];
            if (free_at <= m_cycle) {
                free_at = m_cycle + use.cycles;
                --left;
            }
        }
    }
}

void OutOfOrderPipeline::retire() {
    // Finished executing at issue + latency (llvm-mca marks it executed at the start of that
    // cycle, after the retire stage ran): retired from the cycle after.
    while (m_head < m_next) {
        const Op& o = op(m_head);
        if (o.issued == kNone || o.issued + o.latency >= m_cycle) {
            break;
        }
        for (unsigned i = 0; i < o.num_writes; ++i) {
            Rename& r = m_rename[o.writes[i].slot];
            if (r.producer == m_head) {
                r.producer = kNone;
                r.ready = o.issued + r.latency;
            }
        }
        m_rob_used -= o.tokens;
        ++m_head;
    }
}

void OutOfOrderPipeline::issue() {
    for (;;) {
        uint64_t oldest_load = kNone;
        for (uint64_t seq : m_waiting) {
            if (op(seq).is_load) {
                oldest_load = seq;
                break;
            }
        }
        size_t best = m_waiting.size();
        int64_t best_rank = 0;
        for (size_t i = 0; i < m_waiting.size(); ++i) {
            const uint64_t seq = m_waiting[i];
            const Op& o = op(seq);
            const int64_t rank = int64_t(seq) - int64_t(o.users);
            // Lower rank first, the older on a tie; m_waiting is in program order.
            if (best != m_waiting.size() && rank >= best_rank) {
                continue;
            }
            if (!ready(o, seq, oldest_load) || !units_free(o)) {
                continue;
            }
            best = i;
            best_rank = rank;
        }
        if (best == m_waiting.size()) {
            return;
        }
        Op& o = op(m_waiting[best]);
        o.issued = m_cycle;
        book_units(o);
        m_waiting.erase(m_waiting.begin() + std::ptrdiff_t(best));
    }
}

void OutOfOrderPipeline::next_cycle() {
    ++m_cycle;
    if (m_carry != 0) {
        m_available = m_carry >= m_width ? 0 : m_width - m_carry;
        m_carry -= m_width - m_available;
    } else {
        m_available = m_width;
    }
    retire();
    issue();
}

uint64_t OutOfOrderPipeline::account(const InsnCost& cost) {
    const uint64_t before = m_cycle;
    while (!can_dispatch(cost)) {
        next_cycle();
    }
    m_gate = kNone;
    dispatch(cost);
    return m_cycle - before;
}

void OutOfOrderPipeline::mispredict(unsigned penalty) {
    if (m_next != 0) {
        m_gate = m_next - 1;
        m_gate_penalty = penalty;
    }
}

void OutOfOrderPipeline::fetch_stall(unsigned cycles) {
    m_fetch_ready = std::max(m_fetch_ready, std::max(m_cycle, m_fetch_ready) + cycles);
}

uint64_t OutOfOrderPipeline::serialize(unsigned extra) {
    const uint64_t before = m_cycle;
    while (m_head < m_next) {
        next_cycle();
    }
    for (unsigned e = 0; e < extra; ++e) {
        next_cycle();
    }
    m_gate = kNone;
    return m_cycle - before;
}

} // namespace klpemu
