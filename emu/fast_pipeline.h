// The default cycle model (`[machine] cycles = "fast"`), cheap enough to run at every guest
// instruction. It consumes the InsnCost facts CycleModel takes from LLVM's scheduling model.
// An in-order core (MicroOpBufferSize <= 1, e.g. cortex-a53) follows llvm-mca's
// InOrderIssueStage as timeline arithmetic per instruction, keeping per CPU:
//   - the issue cycle and how many micro-ops of the core's IssueWidth it used;
//   - per register slot, the cycle its value is written back and the WriteResourceID that
//     wrote it, so a read gets that writer's ReadAdvance (forwarding) cycles subtracted;
//   - per resource unit, the end of its last booking.
// Instructions issue in program order, up to IssueWidth micro-ops per cycle, when their
// operands are ready (minus ReadAdvance), a unit of each resource they use is free, and
// write-back stays in program order. The clock: an instruction is charged the cycles by which
// it moves total_cycles(), the cycle after the last issue.
// An out-of-order core runs OutOfOrderPipeline (emu/ooo_pipeline.h): llvm-mca's dispatch /
// scheduler / retire pipeline stepped cycle by cycle, charged as it dispatches.
// Summed over a run, the charges equal total_cycles(). Fully deterministic.
#pragma once

#include "emu/cycle_model.h"
#include "emu/ooo_pipeline.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace klpemu {

// An in-order FastPipeline's whole state, every cycle counted from the current issue cycle and
// brought to one canonical form: a register value or unit booking that can no longer hold an
// instruction back is written as "long ago". Two pipelines whose relative states compare equal
// charge the same cycles for every future stream, which is what lets MemoizedPipeline
// (emu/memoized_pipeline.h) replay a transition it has seen. No padding: compared and hashed as
// bytes.
struct InOrderState {
    static constexpr unsigned kUnits = 64;
    int32_t fetch_ready = 0;        // >= 0
    int32_t slots_used = 0;         // Micro-ops already issued in the current cycle.
    int32_t writeback_deadline = 0; // >= 0
    int32_t last_done = 0;
    int32_t all_done = 1; // >= 1
    int32_t total = 0;
    std::array<int16_t, kNumSlots> slot_ready{};
    std::array<uint16_t, kNumSlots> slot_writer{};
    std::array<int16_t, kUnits> unit_end{}; // >= 0
    bool operator==(const InOrderState&) const = default;
};

class FastPipeline {
  public:
    // A pipeline for the core `tables` describes; the tables must outlive it.
    explicit FastPipeline(const SchedTables& tables);

    // Accounts one instruction; returns the cycles it adds to total_cycles().
    uint64_t account(const InsnCost& cost) {
        return m_in_order ? account_in_order(cost) : m_ooo->account(cost);
    }
    // The last accounted instruction was a mispredicted branch: the front end delivers the next
    // instruction `penalty` cycles after the branch resolves. Charged with the next instruction.
    void mispredict(unsigned penalty);
    // The front end cannot deliver the next instruction for `cycles` (an I-cache or I-TLB miss).
    void fetch_stall(unsigned cycles);
    // A context-synchronising event (exception entry or return, ISB): everything in flight
    // completes, then `extra` cycles pass before the next instruction. Returns the cycles added.
    uint64_t serialize(unsigned extra);
    uint64_t total_cycles() const { return m_in_order ? m_total : m_ooo->total_cycles(); }
    // The current issue cycle (in-order) or dispatch cycle (out-of-order).
    uint64_t cycle() const { return m_in_order ? m_cycle : m_ooo->cycle(); }

    // In-order cores only: the state relative to cycle(), canonical (see InOrderState); nullopt
    // if some figure does not fit its field (the caller then does not memoise).
    std::optional<InOrderState> relative_state() const;
    // In-order cores only: takes `state` as the state relative to issue cycle `cycle`.
    void set_relative_state(const InOrderState& state, uint64_t cycle);
    bool in_order() const { return m_in_order; }

  private:
    static constexpr unsigned kMaxUnits = InOrderState::kUnits;

    uint64_t account_in_order(const InsnCost& cost);
    uint64_t operands_ready(const InsnCost& cost, uint64_t from) const;
    uint64_t units_free_in_order(const InsnCost& cost, uint64_t from) const;
    uint64_t nth_unit_free(uint64_t units, unsigned needed) const;
    void book_units_in_order(const InsnCost& cost, uint64_t cycle);
    void write_back(const InsnCost& cost, uint64_t issue);

    const SchedTables* m_tables;
    bool m_in_order;
    unsigned m_width;
    uint64_t m_total = 0;
    uint64_t m_cycle = 0;              // Current issue (in-order) / dispatch (OoO) cycle.
    unsigned m_slots_used = 0;         // Micro-ops issued/dispatched in m_cycle.
    uint64_t m_fetch_ready = 0;        // The next instruction cannot issue/dispatch before this.
    uint64_t m_last_done = 0;          // Completion cycle of the last accounted instruction.
    uint64_t m_all_done = 0;           // Completion cycle of everything accounted.
    uint64_t m_writeback_deadline = 0; // In-order: write-back of the last issued instruction.
    struct SlotState {
        uint64_t ready = 0;  // Cycle the value is written back.
        uint16_t writer = 0; // WriteResourceID of the instruction that wrote it.
    };
    std::array<SlotState, kNumSlots> m_slots{};
    std::array<uint64_t, kMaxUnits> m_unit_end{}; // Per unit: end of its last booking.
    std::unique_ptr<OutOfOrderPipeline> m_ooo;    // Out-of-order cores only.
};

} // namespace klpemu
