// The common face of every unwinder policy klpemu models (design.md §5): given a stopped task
// (StackView), produce a trace and say whether it is reliable, the question livepatch's
// klp_check_stack() asks through stack_trace_save_tsk_reliable(). A policy is a pure function of
// the view: no state between calls, so the per-step checker may call it at every boundary.
#pragma once

#include "unwinder/stack_view.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::unwinder {

// Livepatch's MAX_STACK_ENTRIES: a longer trace does not fit and is not reliable.
inline constexpr size_t kMaxStackEntries = 100;

struct UnwindResult {
    // Empties the result, keeping its buffers.
    void clear() {
        reliable = false;
        reason.clear();
        return_addresses.clear();
    }

    bool reliable = false;
    std::string reason; // Why it is unreliable (or how it ended when reliable).
    // First the pc the task is stopped at (Interrupted: regs->pc; Blocked/Current: the saved
    // pc), then each return address, innermost first.
    std::vector<GuestAddr> return_addresses;
};

// What a policy may consult to classify a pc (UnwindPolicy::pc_class): the parts of a
// StackView that do not change from boundary to boundary.
struct PcFacts {
    std::optional<GuestAddr> return_to_handler;
    const CfiTable* cfi = nullptr;
};

class UnwindPolicy {
  public:
    virtual ~UnwindPolicy() = default;
    // The stable policy name ("fp-naive", "seed-v4", "kunwind", "cfi").
    virtual std::string_view name() const = 0;
    // Walks the view into `result`, which it clears first; the buffers `result` already holds
    // are reused (the per-step checker walks at every boundary and keeps them). Never writes
    // guest memory.
    virtual void unwind_into(const StackView& view, UnwindResult& result) const = 0;
    // Walks the view; never writes guest memory.
    UnwindResult unwind(const StackView& view) const {
        UnwindResult result;
        unwind_into(view, result);
        return result;
    }
    // Which pcs this policy walks alike. Contract: at two different pcs of one class, with the
    // same stop kind, sp, x29, x30, graph return stack and memory, the policy answers the same
    // (reliable flag and every entry past the first, each trace's first entry being its own
    // pc), whatever the reason text says. A class is a 4-aligned address naming a range of pcs (a
    // CFI row's start, or the pc itself); nullopt: the walk never looks at pc past its first entry.
    // The per-step checker keys its memoised walks on the class (reliability_checker.cpp), so a
    // straight run of instructions that leave sp, x29 and x30 alone shares one walk.
    virtual std::optional<GuestAddr> pc_class(GuestAddr pc, StopKind stop,
                                              const PcFacts& facts) const {
        (void)pc, (void)stop, (void)facts;
        return std::nullopt;
    }
};

// The names make_policy() accepts, in a stable order.
std::vector<std::string_view> policy_names();
// A policy by name, or nullptr for an unknown name.
std::unique_ptr<UnwindPolicy> make_policy(std::string_view name);

} // namespace klpemu::unwinder
