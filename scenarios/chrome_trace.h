// Chrome trace event files (the JSON that Perfetto and chrome://tracing open): one process per
// scenario, one track per CPU and per task, function spans as complete (`X`) events and patch
// writes and findings as instants (`i`). ts is the global instruction count, not time, so a
// trace is as deterministic as a transcript. Spans are derived from BL/RET observation by
// CallSpanTracker, which tolerates non-nesting control flow (livepatch redirection, graph-tracer
// return hijacks) by matching returns against the return address each call pushed.
//
// The file is written as a stream: every event goes to the output as it is made, and only track
// names are kept, so memory stays flat however long the run (a run of 10^6 calls used to hold
// every span, 3.4 GiB). Spans are written when they close, so the events are in order of their
// end, and each process's metadata comes at the end of the document; viewers sort by ts.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace klpemu::scenario {

struct TraceEvent {
    std::string name;
    std::string category;
    char phase = 'X';  // 'X' complete, 'i' instant, 'M' metadata.
    uint64_t ts = 0;
    uint64_t dur = 0;  // 'X' only.
    int pid = 0;
    int tid = 0;
    std::vector<std::pair<std::string, std::string>> args;
};

class ChromeTraceProcess;

// A whole trace file, written to `out` as it grows:
// {"traceEvents":[EVENT,...],"displayTimeUnit":"ns","otherData":{...}}, one event per line.
class ChromeTrace {
  public:
    // Writes the document's head to `out`, which must outlive the trace.
    explicit ChromeTrace(std::ostream& out);
    ~ChromeTrace();
    ChromeTrace(const ChromeTrace&) = delete;
    ChromeTrace& operator=(const ChromeTrace&) = delete;

    // Adds a process (one per scenario); the reference stays valid for the trace's life.
    ChromeTraceProcess& add_process(std::string name);
    // Writes one event now. Precondition: finish() has not been called.
    void write(const TraceEvent& event);
    // Writes every process's metadata and the document's tail; later events are a bug.
    // Returns whether the stream took everything written to it.
    bool finish();
    uint64_t events_written() const { return m_events_written; }

  private:
    std::ostream& m_out;
    std::vector<std::unique_ptr<ChromeTraceProcess>> m_processes;
    uint64_t m_events_written = 0;
    bool m_finished = false;
};

// One scenario's events, passed on to its trace as they are made.
class ChromeTraceProcess {
  public:
    ChromeTraceProcess(ChromeTrace& trace, int pid, std::string name);

    // Track ids: CPUs use tid = cpu, tasks tid = 1000 + their index (in order of first use).
    int cpu_track(int cpu);
    int task_track(const std::string& task);

    void complete(int tid, std::string name, std::string category, uint64_t ts, uint64_t end,
                  std::vector<std::pair<std::string, std::string>> args = {});
    void instant(int tid, std::string name, std::string category, uint64_t ts,
                 std::vector<std::pair<std::string, std::string>> args = {});

    int pid() const { return m_pid; }
    // Metadata events naming the process and its tracks.
    std::vector<TraceEvent> metadata() const;

  private:
    ChromeTrace& m_trace;
    int m_pid;
    std::string m_name;
    std::map<int, std::string> m_track_names;
    std::map<std::string, int> m_task_tids;
};

// Turns call/return observations of one task into X spans on its track.
class CallSpanTracker {
  public:
    CallSpanTracker(ChromeTraceProcess& process, int tid) : m_process(process), m_tid(tid) {}

    // A BL/BLR into `function` at instruction `ts` that will return to `return_addr`.
    void call(std::string function, uint64_t return_addr, uint64_t ts);
    // A RET to `target` at `ts`: closes the frame that pushed that return address and any
    // frames above it; a return matching no frame is ignored.
    void ret(uint64_t target, uint64_t ts);
    // A tail call (B to a function entry) replaces the innermost frame's name.
    void tail_call(std::string function, uint64_t ts);
    // Closes every open frame at `ts` (end of run).
    void finish(uint64_t ts);
    size_t depth() const { return m_frames.size(); }

  private:
    struct Frame {
        std::string function;
        uint64_t return_addr;
        uint64_t start;
    };
    ChromeTraceProcess& m_process;
    int m_tid;
    std::vector<Frame> m_frames;
};

} // namespace klpemu::scenario
