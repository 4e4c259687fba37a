// The guest workloads of the benchmark (bench/machine_bench.cpp, issue "a benchmark that tells
// the truth"): each is an assembly image and a way to run it on a machine, sized so that a plain
// run takes a few tens of milliseconds. Every image carries .cfi_* directives (the cfi policy
// really walks) and two NOPs of ftrace call site at each function entry, recorded in
// __patchable_function_entries as -fpatchable-function-entry=2 does, so the same image serves
// the ftrace workloads.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace klpemu::bench {

enum class RunShape {
    Call,  // Machine::call(entry, {arg}) on CPU 0.
    Tasks, // `tasks` kthreads running entry(arg), spread over `cpus` CPUs, then Machine::run().
};

struct Workload {
    std::string_view name;
    std::string_view what; // One line for --help.
    std::string_view entry;
    uint64_t arg = 0;
    RunShape shape = RunShape::Call;
    int tasks = 1;
    int cpus = 1;
    // ftrace: the call sites to trace ("" = none) and the tracer ("function" or "graph").
    std::string_view trace_filter;
    std::string_view tracer = "function";
};

// The image every workload runs in.
std::string_view workload_image();
// Every workload, in the order `make bench` prints them.
const std::vector<Workload>& workloads();

} // namespace klpemu::bench
