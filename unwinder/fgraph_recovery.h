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
    explicit GraphRecovery(const GraphReturnStack* graph);

    // True if `pc` is return_to_handler and the task has a graph return stack.
    bool is_hijacked(GuestAddr pc) const;
    // The original return address for a hijacked `pc` whose next frame pointer is `retp`, or
    // nullopt when no entry matches (the kernel then returns -EINVAL).
    std::optional<GuestAddr> recover(GuestAddr retp);

  private:
    const GraphReturnStack* m_graph;
    size_t m_next; // Entries below this index are still searchable (the kernel's graph_idx).
};

} // namespace klpemu::unwinder
