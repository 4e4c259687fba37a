// One CPU's cycle clock (design.md §3 "Clock"): the chosen pipeline model (FastPipeline, run
// through MemoizedPipeline, or llvm-mca's library through McaPipeline) plus the FrontEnd
// (branch predictor, I-cache, I-TLB), optionally the DataSide (L1 D-cache, D-TLB), and the
// machine's context-synchronising events — exception entry and return, and the ISB another
// CPU's text patch forces. Every cycle a CPU is charged comes from here, so the sum of the
// charges is the CPU's cycle count.
//
// In `fast` mode front-end penalties and serialising events act inside the pipeline (the next
// instruction waits; work already in flight overlaps with a miss). In `pipeline` mode llvm-mca
// cannot be told to stall, so the same penalties are added on top of its cycles, unoverlapped.
#pragma once

#include "emu/core_params.h"
#include "emu/cycle_model.h"
#include "emu/data_side.h"
#include "emu/front_end.h"
#include "emu/mca_pipeline.h"
#include "emu/memoized_pipeline.h"

#include <memory>
#include <optional>

namespace klpemu {

class CpuClock {
  public:
    // A clock for one CPU of the core `model` describes; `model` must outlive it. With
    // `data_side`, data_access() charges L1 D-cache and D-TLB misses (emu/data_side.h).
    static Result<std::unique_ptr<CpuClock>> create(const CycleModel& model, CycleAccuracy mode,
                                                    bool data_side = false);

    // Charges the instruction at `pc` (word `w`, facts `cost` = CycleModel::cost(w)); returns
    // its cycles.
    [[gnu::always_inline]] uint64_t instruction(uint64_t pc, const InsnCost& cost, InsnWord w) {
        // B is always predicted and trains nothing; every other branch goes to the predictor.
        if (m_prev_branch != BranchKind::None && m_prev_branch != BranchKind::Direct) {
            resolve_branch(pc);
        }
        if (((pc ^ m_fetch_pc) >> 6) != 0) [[unlikely]] {
            fetch_line(pc);
        }
        m_prev_branch = cost.branch;
        m_prev_pc = pc;
        if (m_mca) [[unlikely]] {
            const uint64_t c = m_mca->account(w) + m_pending;
            m_pending = 0;
            return c;
        }
        return m_fast.account(pc, cost, w.raw);
    }
    // A guest data access by the instruction charged last (only with a data side): a load that
    // misses stalls the pipeline behind it for the refill (fast), or adds the refill on top of
    // llvm-mca's cycles, charged with the next instruction (pipeline).
    void data_access(uint64_t addr, unsigned size, bool store);
    // Exception entry (the vector fetch) and ERET: a drain plus the redirect; returns cycles.
    uint64_t exception_entry();
    uint64_t exception_return();
    // An ISB executed because another CPU patched text (aarch64_insn_patch_text's sync).
    uint64_t isb();
    // The writer's side of patching `lines` 64-byte lines of text the way
    // aarch64_insn_patch_text_nosync does: the fixmap alias is mapped and torn down (TLBI,
    // DSB ISH, ISB), then caches_clean_inval_pou (DC CVAU, DSB ISH, IC IVAU, DSB ISH, ISB).
    // Returns the cycles it takes; not charged to any CPU here.
    uint64_t patch_text_cost(unsigned lines) const;

    const CoreParams& params() const { return *m_params; }
    const FrontEndStats& front_end_stats() const { return m_front.stats(); }
    // Nullptr unless the clock models the data side.
    const DataSideStats* data_side_stats() const { return m_data ? &m_data->stats() : nullptr; }
    uint64_t total_cycles() const;

  private:
    CpuClock(const CycleModel& model, const CoreParams& params);
    void resolve_branch(uint64_t pc) {
        if (m_front.mispredicted(m_prev_branch, m_prev_pc, pc)) [[unlikely]] {
            mispredict();
        }
    }
    void mispredict();
    void fetch_line(uint64_t pc);
    uint64_t serialize(unsigned extra);
    unsigned redirect_cycles() const;

    const CoreParams* m_params;
    unsigned m_mispredict_penalty;
    MemoizedPipeline m_fast;
    std::optional<McaPipeline> m_mca;
    FrontEnd m_front;
    std::optional<DataSide> m_data;
    BranchKind m_prev_branch = BranchKind::None;
    uint64_t m_prev_pc = 0;
    uint64_t m_fetch_pc = ~uint64_t(0);
    uint64_t m_pending = 0; // Pipeline mode: penalties charged with the next instruction.
    uint64_t m_mca_extra = 0;
};

} // namespace klpemu
