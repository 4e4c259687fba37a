// Which bytes of the task stacks changed, without the machine's memory-write hook: the reliability
// checker (reliability_checker.h) reuses a memoised walk only while none of the stack words it
// read has changed, so it needs to know where guest code (and the host) wrote a stack.
//
// The tracker keeps a shadow copy of every tracked task stack. At a store instruction the
// checker hands over the encoding's decoded access (branch_class.h: base register, offset or
// index, size — a superset of the bytes written); at the storing CPU's next boundary, when the
// store has executed, those bytes are compared with the shadow. Only bytes that really changed
// are logged (a prologue's `stp x29, x30` storing the same record again changes nothing). A
// store whose address is not decoded (DC ZVA, tag stores) and host work (host calls, task
// switches) mark every stack for a full comparison before its next use.
//
// Bounded: per stack one shadow copy (the stack's size) and a ring of kChangeLog changes.
#pragma once

#include "emu/guest_addr.h"
#include "unwinder/branch_class.h"
#include "unwinder/ground_truth.h"
#include "unwinder/stack_view.h"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

namespace klpemu::unwinder {

// One task stack as the tracker last saw it.
struct StackShadow {
    static constexpr size_t kChangeLog = 64; // Changes remembered per stack.

    GuestRange range;
    std::vector<uint8_t> bytes;
    uint64_t change_count = 0; // Bumped at every logged change.
    std::array<std::pair<uint64_t, uint64_t>, kChangeLog> changes{}; // [lo, hi) per change.
    uint64_t compared_at_host_work = 0; // The tracker's host-work count at the last full compare.
};

class StackStoreTracker {
  public:
    // `memory` must outlive the tracker.
    explicit StackStoreTracker(const MemoryReader& memory) : m_memory(memory) {}

    // Starts tracking `range` (a copy of its current bytes); the pointer stays valid until
    // untrack(). Contract: `range` is not empty and overlaps no tracked stack.
    StackShadow* track(GuestRange range);
    void untrack(const StackShadow* shadow);

    // CPU `cpu` reached a boundary: every store it noted has executed; compare those bytes.
    void store_executed(int cpu) {
        if (m_active != 0) {
            compare_pending(cpu);
        }
    }
    // The instruction of class `cls` is about to execute on `cpu` with registers `regs`.
    void note_store(int cpu, const BranchClass& cls, const RegisterReader& regs);
    // The host may have written any stack (host call, task switch).
    void host_work() { ++m_host_work; }
    // Compares all of `shadow` with guest memory if host work happened since it last was.
    void bring_up_to_date(StackShadow& shadow);

    // True if none of the 8-byte words at `reads` (all inside [lo, hi)) changed since the
    // shadow's change_count was `since`. False also when the log no longer reaches back.
    static bool unchanged_since(const StackShadow& shadow, uint64_t since,
                                std::span<const GuestAddr> reads, uint64_t lo, uint64_t hi);
    // True if every word at `reads` (all inside the shadow's stack) holds the value at the same
    // index of `values` in guest memory now; reads the stack through one host pointer.
    static bool still_holds(const MemoryReader& memory, const StackShadow& shadow,
                            std::span<const GuestAddr> reads, std::span<const uint64_t> values);

  private:
    struct PendingStore {
        bool active = false;
        GuestAddr addr;
        uint64_t size = 0;
    };

    void compare_pending(int cpu);
    void compare_range(GuestAddr addr, uint64_t size);
    void compare_all(StackShadow& shadow);
    static void log_change(StackShadow& shadow, uint64_t lo, uint64_t hi);

    const MemoryReader& m_memory;
    std::map<uint64_t, std::unique_ptr<StackShadow>> m_stacks; // By stack begin.
    std::vector<PendingStore> m_pending;                       // Per CPU.
    size_t m_active = 0; // Entries of m_pending with `active` set.
    uint64_t m_host_work = 0;
};

} // namespace klpemu::unwinder
