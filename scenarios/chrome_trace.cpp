// Chrome trace event JSON (see chrome_trace.h).
#include "scenarios/chrome_trace.h"

#include "emu/check.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ostream>

namespace klpemu::scenario {

namespace {

nlohmann::json to_json_event(const TraceEvent& e) {
    nlohmann::json j{{"name", e.name}, {"ph", std::string(1, e.phase)}, {"pid", e.pid},
                     {"tid", e.tid}};
    if (e.phase != 'M') {
        j["cat"] = e.category;
        j["ts"] = e.ts;
    }
    if (e.phase == 'X') {
        j["dur"] = e.dur;
    }
    if (e.phase == 'i') {
        j["s"] = "t"; // Thread-scoped instant: drawn on its track.
    }
    nlohmann::json args = nlohmann::json::object();
    for (const auto& [k, v] : e.args) {
        args[k] = v;
    }
    if (!args.empty()) {
        j["args"] = std::move(args);
    }
    return j;
}

} // namespace

ChromeTrace::ChromeTrace(std::ostream& out) : m_out(out) { m_out << "{\"traceEvents\":[\n"; }

ChromeTrace::~ChromeTrace() = default;

ChromeTraceProcess& ChromeTrace::add_process(std::string name) {
    const int pid = static_cast<int>(m_processes.size()) + 1;
    m_processes.push_back(std::make_unique<ChromeTraceProcess>(*this, pid, std::move(name)));
    return *m_processes.back();
}

void ChromeTrace::write(const TraceEvent& event) {
    KLP_CHECK(!m_finished, "a trace event after the trace was finished");
    m_out << (m_events_written == 0 ? "" : ",\n") << to_json_event(event).dump();
    ++m_events_written;
}

bool ChromeTrace::finish() {
    KLP_CHECK(!m_finished, "a trace finished twice");
    for (const auto& p : m_processes) {
        for (const auto& e : p->metadata()) {
            write(e);
        }
    }
    const nlohmann::json clock{{"clock", "ts = global instruction count"}};
    m_out << "\n],\"displayTimeUnit\":\"ns\",\"otherData\":" << clock.dump() << "}\n";
    m_out.flush();
    m_finished = true;
    return static_cast<bool>(m_out);
}

ChromeTraceProcess::ChromeTraceProcess(ChromeTrace& trace, int pid, std::string name)
    : m_trace(trace), m_pid(pid), m_name(std::move(name)) {}

int ChromeTraceProcess::cpu_track(int cpu) {
    m_track_names.try_emplace(cpu, "cpu" + std::to_string(cpu));
    return cpu;
}

int ChromeTraceProcess::task_track(const std::string& task) {
    auto [it, inserted] =
        m_task_tids.try_emplace(task, 1000 + static_cast<int>(m_task_tids.size()));
    if (inserted) {
        m_track_names[it->second] = task;
    }
    return it->second;
}

void ChromeTraceProcess::complete(int tid, std::string name, std::string category, uint64_t ts,
                                  uint64_t end, std::vector<std::pair<std::string, std::string>> args) {
    m_trace.write(TraceEvent{std::move(name), std::move(category), 'X', ts,
                             end > ts ? end - ts : 0, m_pid, tid, std::move(args)});
}

void ChromeTraceProcess::instant(int tid, std::string name, std::string category, uint64_t ts,
                                 std::vector<std::pair<std::string, std::string>> args) {
    m_trace.write(
        TraceEvent{std::move(name), std::move(category), 'i', ts, 0, m_pid, tid, std::move(args)});
}

std::vector<TraceEvent> ChromeTraceProcess::metadata() const {
    std::vector<TraceEvent> out;
    out.push_back(TraceEvent{"process_name", "", 'M', 0, 0, m_pid, 0, {{"name", m_name}}});
    for (const auto& [tid, name] : m_track_names) {
        out.push_back(TraceEvent{"thread_name", "", 'M', 0, 0, m_pid, tid, {{"name", name}}});
    }
    return out;
}

void CallSpanTracker::call(std::string function, uint64_t return_addr, uint64_t ts) {
    m_frames.push_back(Frame{std::move(function), return_addr, ts});
}

void CallSpanTracker::ret(uint64_t target, uint64_t ts) {
    auto it = std::find_if(m_frames.rbegin(), m_frames.rend(),
                           [&](const Frame& f) { return f.return_addr == target; });
    if (it == m_frames.rend()) {
        return;
    }
    const size_t keep = static_cast<size_t>(m_frames.rend() - it) - 1;
    while (m_frames.size() > keep) {
        auto& f = m_frames.back();
        m_process.complete(m_tid, f.function, "function", f.start, ts);
        m_frames.pop_back();
    }
}

void CallSpanTracker::tail_call(std::string function, uint64_t ts) {
    if (m_frames.empty()) {
        return;
    }
    auto& f = m_frames.back();
    m_process.complete(m_tid, f.function, "function", f.start, ts);
    f.function = std::move(function);
    f.start = ts;
}

void CallSpanTracker::finish(uint64_t ts) {
    while (!m_frames.empty()) {
        auto& f = m_frames.back();
        m_process.complete(m_tid, f.function, "function", f.start, ts);
        m_frames.pop_back();
    }
}

} // namespace klpemu::scenario
