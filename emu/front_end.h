// The instruction-fetch side that llvm-mca leaves out: a branch predictor and the L1
// instruction cache and TLB, with per-core sizes from emu/core_params.h. It sees only what the
// machine's code hook sees — the PC of each executed instruction and the InsnCost of the one
// before — so a branch's outcome is read off the next PC. The predictor is deliberately simple
// and documented (docs/machine.md "What a klpemu cycle is"):
//   conditional  a table of 2-bit saturating counters indexed by PC (bimodal);
//   direct       B and BL are always predicted (their targets are in the encoding);
//   calls        BL/BLR push PC + 4 on a return stack of CoreParams::return_stack entries
//                (the oldest entry is lost when it is full);
//   returns      RET is predicted to the top of the return stack;
//   indirect     BR/BLR are predicted to the last target seen at that PC.
// A wrong prediction costs the scheduling model's MispredictPenalty after the branch resolves.
// Fetch: a new 64-byte line is looked up in an LRU set-associative I-cache and its 4 KiB page in
// a fully associative LRU I-TLB; misses stall the front end for the core's miss cycles.
//
// The predictor runs at every executed branch, so it is inline and every table size is a power
// of two (indices are masks, not divisions).
#pragma once

#include "emu/core_params.h"
#include "emu/cycle_model.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace klpemu {

struct FrontEndStats {
    uint64_t branches = 0;
    uint64_t mispredicts = 0;
    uint64_t icache_misses = 0;
    uint64_t itlb_misses = 0;
};

class FrontEnd {
  public:
    explicit FrontEnd(const CoreParams& params);

    // The branch at `branch_pc` (of `kind`) was followed by the instruction at `next_pc`;
    // returns whether the predictor got it wrong, and trains it.
    bool mispredicted(BranchKind kind, uint64_t branch_pc, uint64_t next_pc) {
        ++m_stats.branches;
        const size_t index = size_t(branch_pc >> 2) & m_index_mask;
        bool wrong = false;
        switch (kind) {
        case BranchKind::None:
        case BranchKind::Direct:
            break;
        case BranchKind::Conditional: {
            const bool taken = next_pc != branch_pc + 4;
            uint8_t& c = m_counters[index];
            wrong = (c >= 2) != taken;
            c = taken ? uint8_t(std::min(3, c + 1)) : uint8_t(std::max(0, c - 1));
            break;
        }
        case BranchKind::Call:
        case BranchKind::IndirectCall:
            // A full return stack overwrites its oldest entry.
            m_return_stack[m_rs_top] = branch_pc + 4;
            m_rs_top = (m_rs_top + 1) & m_rs_mask;
            m_rs_count = std::min(m_rs_count + 1, m_rs_mask + 1);
            if (kind == BranchKind::Call) {
                break;
            }
            [[fallthrough]];
        case BranchKind::Indirect:
            wrong = m_last_target[index] != next_pc;
            m_last_target[index] = next_pc;
            break;
        case BranchKind::Return:
            if (m_rs_count == 0) {
                wrong = true;
                break;
            }
            m_rs_top = (m_rs_top - 1) & m_rs_mask;
            --m_rs_count;
            wrong = m_return_stack[m_rs_top] != next_pc;
            break;
        }
        m_stats.mispredicts += wrong ? 1 : 0;
        return wrong;
    }
    // The fetch of the line holding `pc` (called when the line changes); returns stall cycles.
    unsigned fetch(uint64_t pc);
    const FrontEndStats& stats() const { return m_stats; }

  private:
    static constexpr unsigned kLineShift = 6, kPageShift = 12, kMaxReturnStack = 64;
    const CoreParams* m_params;
    FrontEndStats m_stats;
    std::vector<uint8_t> m_counters;     // 2-bit, initialised weakly not-taken.
    std::vector<uint64_t> m_last_target; // Indirect predictor, indexed like m_counters.
    std::array<uint64_t, kMaxReturnStack> m_return_stack{}; // A ring; m_rs_top is the next slot.
    size_t m_index_mask = 0;                                // m_counters.size() - 1
    unsigned m_rs_top = 0, m_rs_count = 0, m_rs_mask = 0;   // m_rs_mask: capacity - 1
    unsigned m_set_mask = 0, m_ways = 1;
    std::vector<uint64_t> m_icache; // Per set, `m_ways` line tags, most recently used first.
    std::vector<uint64_t> m_itlb;   // Page numbers, most recently used first.
};

} // namespace klpemu
