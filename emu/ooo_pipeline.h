// The `fast` cycle model of an out-of-order core (MicroOpBufferSize > 1: cortex-a57/a72,
// neoverse-n1/v1): llvm-mca's default pipeline (dispatch, scheduler, retire) re-stated cycle by
// cycle over klpemu's own InsnCost facts, so that it picks among ready instructions the way
// llvm-mca does instead of booking each instruction, in program order, at its earliest free
// cycle (which lets an older instruction take a unit a younger, more urgent one needed).
//
// Each simulated cycle, as in llvm::mca::Pipeline::runCycle:
//   1. retire, in order, every instruction that finished executing before this cycle;
//   2. issue: among dispatched instructions whose operands are ready (write latency minus the
//      reader's ReadAdvance, counted from the writer's issue) and whose memory ordering allows
//      it, repeatedly pick the one with the lowest rank — source index minus the number of
//      dispatched readers waiting on its results (llvm-mca's DefaultSchedulerStrategy), ties
//      to the older — that finds a free unit of every resource it uses, and book the units;
//   3. dispatch: up to IssueWidth micro-ops in program order, while the reorder buffer
//      (MicroOpBufferSize micro-ops) has room; an instruction dispatched in cycle c issues at
//      c + 1 at the earliest (zero-latency, resource-less instructions issue at dispatch).
// Memory ordering is llvm-mca's with its default no-alias assumption: a store issues no earlier
// than every older load and the previous store (the same cycle allowed); loads pass stores and
// each other. Not modelled (llvm-mca's defaults leave them unlimited too): scheduler
// queue sizes, register files, load/store queue sizes.
//
// The clock is llvm-mca's as McaPipeline reads it: an instruction is charged the cycles that
// pass until it dispatches, so total_cycles() is the dispatch cycle of the last instruction and
// trails the completion of the work in flight (serialize() drains it).
#pragma once

#include "emu/cycle_model.h"

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

namespace klpemu {

class OutOfOrderPipeline {
  public:
    // A pipeline for the out-of-order core `tables` describes; the tables must outlive it.
    explicit OutOfOrderPipeline(const SchedTables& tables);

    // Dispatches one instruction, running cycles until it can; returns the cycles that passed.
    uint64_t account(const InsnCost& cost);
    // The last accounted instruction was a mispredicted branch: the next one dispatches no
    // earlier than `penalty` cycles after the branch finishes executing.
    void mispredict(unsigned penalty);
    // The next instruction cannot dispatch for `cycles` more cycles.
    void fetch_stall(unsigned cycles);
    // Runs until everything in flight has retired, then lets `extra` cycles pass; returns the
    // cycles added.
    uint64_t serialize(unsigned extra);
    uint64_t total_cycles() const { return m_cycle; }
    uint64_t cycle() const { return m_cycle; }

  private:
    static constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
    static constexpr unsigned kRing = 512; // > any MicroOpBufferSize: in-flight ops fit.

    struct Dep {
        uint64_t producer = kNone; // Sequence number of the writer, or kNone: `ready` holds.
        int64_t ready = 0;         // Cycle the value can be read (producer == kNone).
        uint16_t latency = 0;      // The producer's write latency for this register.
        uint16_t writer = 0;       // Its WriteResourceID.
        uint8_t group = 0;         // The read's ReadAdvance group.
    };
    struct Op {
        uint64_t issued = kNone;
        uint64_t store_dep = kNone; // The previous store (stores only).
        uint32_t users = 0;         // Reads registered on it while it had not issued.
        uint16_t latency = 0;
        uint16_t tokens = 1; // Reorder-buffer entries.
        uint8_t num_deps = 0;
        uint8_t num_units = 0;
        uint8_t num_writes = 0;
        bool is_load = false;
        bool is_store = false;
        std::array<Dep, 6> deps{};
        std::array<SchedUnitUse, 4> units{};
        std::array<SchedWrite, 3> writes{};
    };
    struct Rename {
        uint64_t producer = kNone;
        uint64_t ready = 0;
        uint16_t latency = 0;
        uint16_t writer = 0;
    };

    Op& op(uint64_t seq) { return m_ops[seq % kRing]; }
    const Op& op(uint64_t seq) const { return m_ops[seq % kRing]; }
    bool can_dispatch(const InsnCost& cost) const;
    void dispatch(const InsnCost& cost);
    void next_cycle();
    void retire();
    void issue();
    bool ready(const Op& o, uint64_t seq, uint64_t oldest_load) const;
    bool units_free(const Op& o) const;
    void book_units(const Op& o);

    const SchedTables* m_tables;
    unsigned m_width;
    unsigned m_rob_size;
    uint64_t m_cycle = 0;
    unsigned m_available = 0; // Dispatch slots left in m_cycle.
    unsigned m_carry = 0;     // Micro-ops of a wide instruction still to dispatch.
    uint64_t m_fetch_ready = 0;
    uint64_t m_gate = kNone; // Mispredicted branch the next dispatch waits for.
    unsigned m_gate_penalty = 0;
    uint64_t m_head = 0; // Oldest in-flight sequence number.
    uint64_t m_next = 0; // Next sequence number.
    unsigned m_rob_used = 0;
    uint64_t m_last_store = kNone;
    std::vector<Op> m_ops;
    std::vector<uint64_t> m_waiting; // Dispatched, not issued, in program order.
    std::array<Rename, kNumSlots> m_rename{};
    std::array<uint64_t, 64> m_unit_free{}; // Cycle from which each unit is free.
};

} // namespace klpemu
