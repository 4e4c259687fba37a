// See fgraph_recovery.h: ftrace_graph_ret_addr() with its `idx` cursor, and 4.19's by-index
// recovery.
#include "unwinder/fgraph_recovery.h"

namespace klpemu::unwinder {

GraphRecovery::GraphRecovery(const GraphReturnStack* graph,
                             std::optional<GuestAddr> return_to_handler)
    : m_graph(graph),
      m_return_to_handler(graph != nullptr ? std::optional(graph->return_to_handler())
                                           : return_to_handler),
      m_next(graph != nullptr ? graph->entries().size() : 0) {}

bool GraphRecovery::is_hijacked(GuestAddr pc) const {
    return m_return_to_handler && pc == *m_return_to_handler;
}

std::optional<GuestAddr> GraphRecovery::recover(GuestAddr retp) {
    if (m_graph == nullptr) {
        return std::nullopt;
    }
    const auto entries = m_graph->entries();
    const GuestAddr handler = m_graph->return_to_handler();
    for (size_t i = m_next; i-- > 0;) {
        if (entries[i].retp == retp && entries[i].ret != handler) {
            m_next = i;
            return entries[i].ret;
        }
    }
    return std::nullopt;
}

std::optional<GuestAddr> GraphRecovery::recover_by_index() {
    if (m_graph == nullptr || m_next == 0) {
        return std::nullopt;
    }
    return m_graph->entries()[--m_next].ret;
}

} // namespace klpemu::unwinder
