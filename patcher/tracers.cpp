// Built-in tracers as ftrace ops clients (see tracers.h).
#include "patcher/tracers.h"

#include "patcher/ftrace.h"

#include <vector>

namespace klpemu::patcher {

Result<TracerKind> parse_tracer_kind(std::string_view name) {
    if (name == "function") {
        return TracerKind::Function;
    }
    if (name == "graph" || name == "function_graph") {
        return TracerKind::Graph;
    }
    return make_error("unknown tracer '{}' (expected function or graph)", name);
}

Result<void> Tracers::enable(std::string_view filter_text, TracerKind tracer) {
    const FtraceFilter filter(filter_text);
    auto existing = m_ops.find(tracer);
    if (existing == m_ops.end()) {
        FtraceOps ops;
        ops.name = tracer == TracerKind::Function ? "function" : "function_graph";
        ops.filter = filter;
        const bool by_caller = tracer == TracerKind::Graph && m_ftrace.graph_by_caller();
        if (tracer == TracerKind::Function) {
            ops.func = [this](FtraceCall& call) { m_function.on_entry(call); };
        } else if (by_caller) {
            // graph_ops.func is ftrace_stub: ftrace_graph_caller does the work.
            ops.func = [](FtraceCall&) {};
        } else {
            ops.func = [this](FtraceCall& call) { m_graph.on_entry(call); };
        }
        KLP_TRY_ASSIGN(id, m_ftrace.register_ops(std::move(ops)));
        m_ops.emplace(tracer, id);
        if (by_caller) {
            KLP_TRY(m_ftrace.set_graph_caller(id));
        }
        return {};
    }
    KLP_TRY_ASSIGN(matched, m_ftrace.add_ops_filter(existing->second, filter));
    if (matched == 0) {
        return make_error("ftrace: filter '{}' matches no traceable function", filter_text);
    }
    return {};
}

Result<void> Tracers::disable(std::string_view filter_text) {
    const FtraceFilter filter(filter_text);
    size_t removed = 0;
    std::vector<TracerKind> emptied;
    for (const auto& [tracer, id] : m_ops) {
        removed += m_ftrace.remove_ops_filter(id, filter);
        if (m_ftrace.ops_filter_hash(id).empty()) {
            emptied.push_back(tracer);
        }
    }
    if (removed == 0) {
        return make_error("ftrace: filter '{}' matches no traced function", filter_text);
    }
    for (TracerKind tracer : emptied) {
        KLP_TRY(m_ftrace.unregister_ops(m_ops.at(tracer)));
        m_ops.erase(tracer);
        // ftrace_shutdown(FTRACE_STOP_FUNC_RET): ftrace_modify_all_code updates the call sites
        // and the tracer call first, and puts ftrace_graph_call's NOP back last.
        if (tracer == TracerKind::Graph && m_ftrace.graph_by_caller()) {
            KLP_TRY(m_ftrace.set_graph_caller(0));
        }
    }
    return m_ftrace.update_sites();
}

} // namespace klpemu::patcher
