// The common face of every unwinder policy klpemu models (design.md §5): given a stopped task
// (StackView), produce a trace and say whether it is reliable, the question livepatch's
// klp_check_stack() asks through stack_trace_save_tsk_reliable(). A policy is a pure function of
// the view: no state between calls, so the per-step checker may call it at every boundary.
#pragma once

#include "unwinder/stack_view.h"

#include <memory>
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
    // True if the trace past its first entry may change when only the pc changes.
    virtual bool depends_on_pc() const { return false; }
};

// The names make_policy() accepts, in a stable order.
std::vector<std::string_view> policy_names();
// A policy by name, or nullptr for an unknown name.
std::unique_ptr<UnwindPolicy> make_policy(std::string_view name);

} // namespace klpemu::unwinder
