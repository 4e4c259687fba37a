// Per-instruction cycle costs for the machine's clock (design.md §3 "Clock"). A CycleModel reads
// LLVM's scheduling tables for a named core — the same MCSchedModel data llvm-mca uses — so the
// cost of each ftrace trampoline variant can be reported in cycles as well as instructions.
//
// InsnCost fields:
//   latency       cycles from issue until the instruction's register results can be read:
//                 MCSchedModel::computeInstrLatency of the (variant-resolved) sched class,
//                 at least 1.
//   issue_cycles  cycles the instruction occupies issue: the largest ReleaseAtCycle among the
//                 processor resources its sched class writes (a non-pipelined divider holds its
//                 unit for many cycles), at least 1. NumMicroOps is not used.
//   is_load       MCInstrDesc::mayLoad.
//   defs_mask / uses_mask   general-purpose registers written / read, explicit and implicit:
//                 bit n = xn/wn (n = 0..30), bit 31 = sp/wsp; xzr/wzr and non-GPRs are ignored.
//   fast_defs_mask  the part of defs_mask whose own write latency in the model is <= 1 cycle,
//                 typically the base-register writeback of pre/post-indexed loads and stores
//                 (stp x29, x30, [sp, #-16]! writes sp early and x29/x30 only to memory).
// Words that do not decode get kUnknownInsnCost. Words that decode but have no sched class in
// the core's model (e.g. LSE atomics on a v8.0 core) get latency 1, issue 1 and their real
// masks and is_load.
//
// InOrderPipeline turns costs into cycles with one deliberately simple in-order rule:
//   issue(i)     = max(next_issue, max over r in uses(i) of ready[r])
//   next_issue   = issue(i) + issue_cycles(i)
//   ready[r]     = issue(i) + latency(i)        for every r in defs(i) \ fast_defs(i)
//   ready[r]     = issue(i) + 1                 for every r in fast_defs(i)
// Loads and ALU results alike are readable exactly `latency` cycles after issue; there is no
// extra forwarding and LLVM's ReadAdvance is not applied. Single issue (no dual issue). The
// cycles charged for an instruction are how far it moves next_issue, so the sum over a sequence
// is the cycle at which the next instruction could issue. Fully deterministic.
#pragma once

#include "emu/insn_word.h"
#include "emu/result.h"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace klpemu {

struct InsnCost {
    uint16_t latency = 1;
    uint16_t issue_cycles = 1;
    bool is_load = false;
    uint64_t defs_mask = 0;
    uint64_t uses_mask = 0;
    uint64_t fast_defs_mask = 0;

    constexpr bool operator==(const InsnCost&) const = default;
};

// The cost of a word that does not decode: one cycle, no registers.
inline constexpr InsnCost kUnknownInsnCost{};

inline constexpr unsigned kSpBit = 31; // Bit of sp/wsp in InsnCost masks.

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
    // The cost of `w` on this core (see the file comment); pure and deterministic.
    InsnCost cost(InsnWord w) const;

  private:
    struct Impl;
    explicit CycleModel(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

class InOrderPipeline {
  public:
    // Issues one instruction under the rule above; returns the cycles it adds to the total.
    uint64_t account(const InsnCost& cost);
    // Cycles so far: when the next instruction could issue if it had no dependencies.
    uint64_t total_cycles() const { return m_next_issue; }

  private:
    uint64_t m_next_issue = 0;
    std::array<uint64_t, 32> m_ready{};
};

} // namespace klpemu
