// The tracefs front end of the built-in tracers (`echo leaf > set_ftrace_filter; echo function >
// current_tracer`), as the scenario actions `ftrace enable FILTER [tracer=function|graph]` and
// `ftrace disable FILTER` drive it. Each built-in tracer is one ordinary ftrace ops, registered
// on first use with the functions named so far and unregistered when its filter empties; the
// tracers' own logic lives in FunctionTracer and GraphTracer, the hashes in FtraceOpsRegistry.
#pragma once

#include "emu/result.h"
#include "patcher/ftrace_ops.h"
#include "patcher/function_tracer.h"
#include "patcher/graph_tracer.h"

#include <map>
#include <string_view>

namespace klpemu::patcher {

class Ftrace;

enum class TracerKind { Function, Graph };

// "function" | "graph" (also "function_graph").
Result<TracerKind> parse_tracer_kind(std::string_view name);

class Tracers {
  public:
    // Contract: `ftrace` outlives this object (Ftrace owns it).
    Tracers(Ftrace& ftrace, FunctionTracer& function, GraphTracer& graph)
        : m_ftrace(ftrace), m_function(function), m_graph(graph) {}

    // Adds the functions `filter` names to `tracer` (registering its ops on first use). Error if
    // the filter names no traceable function.
    Result<void> enable(std::string_view filter, TracerKind tracer);
    // Removes the functions `filter` names from every built-in tracer; a tracer left with none is
    // unregistered. Error if no traced function matches.
    Result<void> disable(std::string_view filter);

  private:
    Ftrace& m_ftrace;
    FunctionTracer& m_function;
    GraphTracer& m_graph;
    std::map<TracerKind, OpsId> m_ops;
};

} // namespace klpemu::patcher
