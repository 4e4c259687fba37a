// Per-instruction scheduling facts for the machine's clock (design.md §3 "Clock"). A CycleModel
// reads LLVM's scheduling model for a named core — the MCSchedModel tables llvm-mca uses — and,
// through llvm-mca's own InstrBuilder, turns each instruction word into the facts a pipeline
// model needs: micro-ops, per-write latencies, the ReadAdvance (forwarding) group of each read,
// and the processor-resource units it occupies and for how long. The pipelines that consume
// these facts are FastPipeline (emu/fast_pipeline.h, the default) and McaPipeline
// (emu/mca_pipeline.h, llvm-mca's library in process).
//
// InsnCost fields:
//   latency       MaxLatency of llvm-mca's InstrDesc (cycles from issue until the last result
//                 is written back; calls use kCallLatency, see below), at least 0.
//   first_writeback  the smallest write latency (llvm-mca's in-order pipeline keeps write-back
//                 in program order with it).
//   uops          NumMicroOps of the sched class.
//   reads/writes  the registers read/written, as register slots (SchedSlot), with each write's
//                 latency and WriteResourceID and each read's ReadAdvance group.
//   units         processor-resource usages: a pool of resource units (SchedTables::pools) and
//                 the cycles one unit of the pool is held (ReleaseAtCycle - AcquireAtCycle).
//   is_load/is_store  MCInstrDesc::mayLoad/mayStore (system instructions are neither).
//   branch        what the front end sees: none, conditional, direct, call (BL), indirect call
//                 (BLR*), return (RET*), indirect (BR*); ERET is none (the machine models it).
//   defs_mask / uses_mask  general-purpose registers written / read: bit n = xn/wn
//                 (n = 0..30), bit 31 = sp/wsp; xzr/wzr and non-GPRs are ignored.
// Words that do not decode get kUnknownInsnCost. Words that decode but have no sched class in
// the core's model (e.g. LSE atomics on a v8.0 core) get latency 1, one micro-op, no units and
// their real registers.
//
// Calls: llvm-mca assumes a call takes --call-latency cycles (100 by default) because it cannot
// see the callee. klpemu executes the callee, so a call is charged as the branch it is: its
// writes (LR) are ready kCallLatency cycles after issue. The cycle benchmark passes the same
// value to llvm-mca-19.
#pragma once

#include "emu/insn_word.h"
#include "emu/result.h"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu {

inline constexpr unsigned kCallLatency = 1;

// Which pipeline turns InsnCost facts into cycles: FastPipeline (default) or llvm-mca's library
// (McaPipeline). `[machine] cycles = "fast" | "pipeline"`, `klpemu run --cycles`.
enum class CycleAccuracy : uint8_t { Fast, Pipeline };

// Register slots: x0..x30 = 0..30, sp = 31, v0..v31 (b/h/s/d/q views) = 32..63, NZCV = 64.
// Unused entries of InsnCost::reads read kUnreadSlot (never written, always ready); unused
// writes go to kUnwrittenSlot (never read), so pipelines can walk fixed-size arrays.
inline constexpr uint8_t kNoSlot = 0xff;
inline constexpr uint8_t kUnreadSlot = 65;
inline constexpr uint8_t kUnwrittenSlot = 66;
inline constexpr unsigned kNumSlots = 67;
inline constexpr unsigned kSpBit = 31; // Bit of sp/wsp in InsnCost masks.

enum class BranchKind : uint8_t { None, Conditional, Direct, Call, IndirectCall, Return, Indirect };

struct SchedRead {
    uint8_t slot = kUnreadSlot;
    uint8_t advance_group = 0; // 0: no ReadAdvance; else SchedTables::advance[group].
    constexpr bool operator==(const SchedRead&) const = default;
};

struct SchedWrite {
    uint8_t slot = kUnwrittenSlot;
    uint16_t latency = 1;
    uint16_t write_resource = 0; // WriteResourceID, matched against ReadAdvance entries.
    constexpr bool operator==(const SchedWrite&) const = default;
};

struct SchedUnitUse {
    uint8_t pool = 0;   // Index into SchedTables::pools.
    uint8_t cycles = 1; // Cycles one unit of the pool is held.
    constexpr bool operator==(const SchedUnitUse&) const = default;
};

struct InsnCost {
    uint16_t latency = 1;
    uint16_t first_writeback = 1;
    uint8_t uops = 1;
    uint8_t num_reads = 0;
    uint8_t num_writes = 0;
    uint8_t num_units = 0;
    bool is_load = false;
    bool is_store = false;
    bool begin_group = false;
    bool end_group = false;
    bool retire_ooo = false;
    BranchKind branch = BranchKind::None;
    std::array<SchedRead, 6> reads{};
    std::array<SchedWrite, 3> writes{};
    std::array<SchedUnitUse, 4> units{};
    uint64_t defs_mask = 0;
    uint64_t uses_mask = 0;

    constexpr bool operator==(const InsnCost&) const = default;
};

// The cost of a word that does not decode: one cycle, one micro-op, no registers, no units.
inline constexpr InsnCost kUnknownInsnCost{};

// The per-core tables the pipelines share (read-only once built; pools and advance groups grow
// as new instructions are decoded, so pipelines hold a reference, never a copy).
struct SchedTables {
    struct Pool {
        uint64_t units = 0; // Bit u: resource unit u can serve this usage.
        uint8_t needed = 1; // Units used at once.
    };
    struct AdvanceGroup {
        int16_t any = 0;                // Cycles for a WriteResourceID without its own entry.
        std::vector<int16_t> by_writer; // Indexed by WriteResourceID.
        int advance(uint16_t writer) const {
            return writer < by_writer.size() ? by_writer[writer] : any;
        }
    };
    std::string core;
    unsigned issue_width = 1;        // MCSchedModel::IssueWidth (llvm-mca's dispatch width).
    unsigned reorder_buffer = 0;     // MicroOpBufferSize; <= 1 means an in-order core.
    unsigned mispredict_penalty = 0; // MCSchedModel::MispredictPenalty.
    unsigned num_units = 0;          // Resource units (each unit of each ProcResource kind).
    // The largest number of cycles any ReadAdvance entry of the core delays a read by (0 when no
    // entry is negative): a value written back that many cycles before the current cycle can no
    // longer hold any instruction back (the memoised pipeline relies on it).
    unsigned max_read_delay = 0;
    std::vector<Pool> pools{Pool{}};
    std::vector<AdvanceGroup> advance{AdvanceGroup{}};

    bool in_order() const { return reorder_buffer <= 1; }
};

class CycleModel {
  public:
    // A model of `core` ("cortex-a53", "cortex-a72", "neoverse-n1", ...); unknown names are an
    // error that lists the known ones.
    static Result<CycleModel> create(std::string_view core = "cortex-a53");
    // The core names create() accepts.
    static std::span<const std::string_view> known_cores();

    ~CycleModel();
    CycleModel(CycleModel&&) noexcept;
    CycleModel& operator=(CycleModel&&) noexcept;

    // The name this model was created for.
    const std::string& core() const;
    // The scheduling facts of `w` on this core (see the file comment); deterministic. May add
    // pools/advance groups to tables() the first time a sched class is seen.
    InsnCost cost(InsnWord w) const;
    // The core's shared tables; the reference stays valid as long as this model lives.
    const SchedTables& tables() const;

  private:
    struct Impl;
    explicit CycleModel(std::unique_ptr<Impl> impl);
    InsnCost decode_cost(InsnWord w) const; // cost() without the memo.
    std::unique_ptr<Impl> m_impl;
};

} // namespace klpemu
