// The function-graph tracer's per-task return stack (`current->ret_stack`, kernel/trace/fgraph.c)
// as an unwinder reads it. When the graph tracer hijacks a return address it stores the original
// in an entry together with `retp`, the caller's frame pointer at the traced call
// (arm64 ftrace_graph_func passes `fregs->fp`); the stack itself then holds `return_to_handler`.
// Unwinders map a `return_to_handler` found in a frame record back to the real return address by
// matching `retp` against the frame pointer of the next record (ftrace_graph_ret_addr()).
//
// Declared in emu/ so that the patcher (which owns the graph tracer) can implement it and the
// unwinder can read it without either including the other (design.md §1).
#pragma once

#include "emu/guest_addr.h"

#include <span>

namespace klpemu {

// One entry of the graph return stack (struct ftrace_ret_stack).
struct GraphReturnEntry {
    GuestAddr ret;  // The original return address that return_to_handler replaced.
    GuestAddr retp; // The caller's frame pointer at the traced call (matched by the unwinder).
    GuestAddr func; // The traced function's entry.
};

// Read-only access to one task's graph return stack.
class GraphReturnStack {
  public:
    virtual ~GraphReturnStack() = default;
    // The entries, oldest (outermost) first; the last one is popped next.
    virtual std::span<const GraphReturnEntry> entries() const = 0;
    // The address of return_to_handler, the hijacked return address.
    virtual GuestAddr return_to_handler() const = 0;
};

} // namespace klpemu
