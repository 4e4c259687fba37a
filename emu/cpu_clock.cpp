// CpuClock (see cpu_clock.h).
#include "emu/cpu_clock.h"

namespace klpemu {

namespace {
// A DSB ISH after broadcast maintenance waits for every CPU in the inner-shareable domain to
// acknowledge it. No TRM gives a figure; this is an assumption of the order of an L2 round trip,
// stated in docs/machine.md.
constexpr unsigned kBroadcastDsbCycles = 20;
} // namespace

CpuClock::CpuClock(const CycleModel& model, const CoreParams& params)
    : m_params(&params), m_mispredict_penalty(model.tables().mispredict_penalty),
      m_fast(model.tables()), m_front(params) {}

Result<std::unique_ptr<CpuClock>> CpuClock::create(const CycleModel& model, CycleAccuracy mode,
                                                   bool data_side) {
    std::unique_ptr<CpuClock> clock(new CpuClock(model, core_params(model.core())));
    if (data_side) {
        clock->m_data.emplace(*clock->m_params);
    }
    if (mode == CycleAccuracy::Pipeline) {
        auto mca = McaPipeline::create(model.core());
        if (!mca) {
            return mca.error();
        }
        clock->m_mca.emplace(std::move(*mca));
    }
    return clock;
}

unsigned CpuClock::redirect_cycles() const {
    return m_params->exception_redirect != 0 ? m_params->exception_redirect : m_mispredict_penalty;
}

void CpuClock::mispredict() {
    if (m_mca) {
        m_pending += m_mispredict_penalty;
        m_mca_extra += m_mispredict_penalty;
        return;
    }
    m_fast.mispredict(m_mispredict_penalty);
}

void CpuClock::fetch_line(uint64_t pc) {
    m_fetch_pc = pc;
    const unsigned stall = m_front.fetch(pc);
    if (stall == 0) {
        return;
    }
    if (m_mca) {
        m_pending += stall;
        m_mca_extra += stall;
        return;
    }
    m_fast.fetch_stall(stall);
}

void CpuClock::data_access(uint64_t addr, unsigned size, bool store) {
    const unsigned stall = m_data->access(addr, size, store);
    if (stall == 0) {
        return;
    }
    if (m_mca) {
        m_pending += stall;
        m_mca_extra += stall;
        return;
    }
    // Behind a blocking L1 the refill holds the pipeline the way an I-side miss holds fetch.
    m_fast.fetch_stall(stall);
}

uint64_t CpuClock::serialize(unsigned extra) {
    m_prev_branch = BranchKind::None; // The next PC is a vector or ELR, not a branch outcome.
    if (m_mca) {
        m_mca_extra += extra;
        return extra;
    }
    return m_fast.serialize(extra);
}

uint64_t CpuClock::exception_entry() {
    return serialize(redirect_cycles());
}

uint64_t CpuClock::exception_return() {
    return serialize(redirect_cycles());
}

uint64_t CpuClock::isb() {
    return serialize(redirect_cycles());
}

uint64_t CpuClock::patch_text_cost(unsigned lines) const {
    // Two ISBs (fixmap teardown, end of caches_clean_inval_pou), three DSB ISH after broadcast
    // maintenance (TLBI, DC CVAU, IC IVAU), and the maintenance itself per line.
    return 2ULL * redirect_cycles() + 3ULL * kBroadcastDsbCycles +
           uint64_t(lines) * m_params->cache_maintenance_cycles;
}

uint64_t CpuClock::total_cycles() const {
    return m_mca ? m_mca->total_cycles() + m_mca_extra : m_fast.total_cycles();
}

} // namespace klpemu
