// Function-graph return address recovery, the model of ftrace_graph_ret_addr()
// (kernel/trace/fgraph.c) as arm64's kunwind_recover_return_address() calls it: when a frame's
// return address is return_to_handler, search the task's ret_stack downwards from the last
// match for the entry whose retp equals the frame pointer of the record just read, skipping
// entries that themselves hold return_to_handler (tail calls). Nothing found means the trace
// cannot be trusted.
#pragma once

#include "emu/graph_return_stack.h"

#include <optional>

namespace klpemu::unwinder {

class GraphRecovery {
  public:
    // `return_to_handler`, if known, marks hijacked addresses even when `graph` is null (the
    // stack was not wired up): they are then unrecoverable, never reported as return addresses.
    GraphRecovery(const GraphReturnStack* graph, std::optional<GuestAddr> return_to_handler);

    // True if `pc` is return_to_handler.
    bool is_hijacked(GuestAddr pc) const;
    // The original return address for a hijacked `pc` whose next frame pointer is `retp`, or
    // nullopt when no entry matches (the kernel then returns -EINVAL).
    std::optional<GuestAddr> recover(GuestAddr retp);
    // 4.19's unwind_frame: `frame->pc = tsk->ret_stack[frame->graph--].ret`, the next entry
    // down from the top whatever its retp, so the n-th return_to_handler met takes the n-th
    // entry from the top; nullopt once the stack is used up (WARN_ON_ONCE(frame->graph == -1)).
    // Not to be mixed with recover() on one walk.
    std::optional<GuestAddr> recover_by_index();

  private:
    const GraphReturnStack* m_graph;
    std::optional<GuestAddr> m_return_to_handler;
    size_t m_next; // Entries below this index are still searchable (the kernel's graph_idx).
};

} // namespace klpemu::unwinder
