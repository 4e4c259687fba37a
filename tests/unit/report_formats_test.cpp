// The four report formats and the Chrome trace: JSON parses with the documented keys, KTAP has
// its version/plan/result lines, JUnit is well-formed XML, traces have X and i events.
#include "scenarios/chrome_trace.h"
#include "scenarios/report_formats.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <vector>

using namespace klpemu;
using namespace klpemu::scenario;

namespace {

std::vector<ScenarioResult> sample() {
    std::vector<ScenarioResult> out(4);
    out[0].name = "calls";
    out[0].file = "basics/calls.toml";
    out[0].kernel = "6.17";
    out[0].status = Status::Pass;
    out[0].instructions = 120;
    out[0].cycles = 180;
    out[0].expectations.push_back({"add_one(41) returns 42", true, "", {"calls.toml", 30, 1}});
    Finding f;
    f.kind = "budget-exhausted";
    f.where = "spin+0x4";
    f.message = "instruction budget of 50 exhausted";
    out[0].findings.push_back(f);
    out[1].name = "wrong <result>";
    out[1].file = "bad/wrong.toml";
    out[1].status = Status::Fail;
    out[1].message = "transcript differs from bad/wrong.expected";
    out[1].diff = "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n";
    out[1].expectations.push_back({"f returns 1", false, "f() returned 2", {"wrong.toml", 9, 1}});
    out[2].name = "broken";
    out[2].file = "bad/broken.toml";
    out[2].status = Status::Error;
    out[2].message = "bad/broken.toml:3:1: error: unknown key 'x' in [machine]";
    out[3].name = "future";
    out[3].file = "lp/future.toml";
    out[3].status = Status::Skip;
    out[3].message = "requires 'livepatch'";
    return out;
}

// A minimal XML well-formedness check: tags nest and close, attributes are quoted.
bool well_formed_xml(const std::string& xml) {
    std::vector<std::string> open;
    size_t i = 0;
    while ((i = xml.find('<', i)) != std::string::npos) {
        const auto end = xml.find('>', i);
        if (end == std::string::npos) {
            return false;
        }
        const auto tag = xml.substr(i + 1, end - i - 1);
        i = end + 1;
        if (tag.starts_with("?")) {
            continue;
        }
        const auto name = tag.substr(tag[0] == '/' ? 1 : 0, tag.find_first_of(" />", 1) - (tag[0] == '/' ? 1 : 0));
        if (tag[0] == '/') {
            if (open.empty() || open.back() != name) {
                return false;
            }
            open.pop_back();
        } else if (tag.back() != '/') {
            open.push_back(name);
        }
        if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) {
            return false;
        }
    }
    return open.empty() && xml.find("<result>") == std::string::npos;
}

} // namespace

TEST_CASE("JSON has the documented shape") {
    const auto j = nlohmann::json::parse(report_json(sample()));
    REQUIRE(j.contains("scenarios"));
    REQUIRE(j["scenarios"].size() == 4);
    for (const auto& s : j["scenarios"]) {
        for (const char* key :
             {"name", "file", "kernel", "status", "findings", "expectations", "stats"}) {
            CHECK_MESSAGE(s.contains(key), key);
        }
        CHECK(s["stats"].contains("instructions"));
        CHECK(s["stats"].contains("cycles"));
    }
    const auto& first = j["scenarios"][0];
    CHECK(first["status"] == "pass");
    CHECK(first["findings"][0]["kind"] == "budget-exhausted");
    CHECK(first["findings"][0]["where"] == "spin+0x4");
    CHECK(first["findings"][0].contains("message"));
    CHECK(first["expectations"][0]["text"] == "add_one(41) returns 42");
    CHECK(first["expectations"][0]["status"] == "pass");
    CHECK(first["stats"]["instructions"] == 120);
    CHECK(j["scenarios"][1]["status"] == "fail");
    CHECK(j["scenarios"][2]["status"] == "error");
    CHECK(j["scenarios"][3]["status"] == "skip");
    CHECK(j["summary"] == nlohmann::json{{"pass", 1}, {"fail", 1}, {"error", 1}, {"skip", 1}});
}

TEST_CASE("KTAP version 1 with a plan, results, subtests and directives") {
    const auto k = report_ktap(sample());
    CHECK(k.starts_with("KTAP version 1\n1..4\n# kernel: 6.17\n"));
    CHECK(k.find("  KTAP version 1\n  # Subtest: calls\n  1..1\n  ok 1 add_one(41) returns 42\nok 1 calls\n") !=
          std::string::npos);
    CHECK(k.find("  # wrong.toml:9:1: f() returned 2\n  not ok 1 f returns 1\n") != std::string::npos);
    CHECK(k.find("# +y\nnot ok 2 wrong <result>\n") != std::string::npos);
    CHECK(k.find("not ok 3 broken # ERROR\n") != std::string::npos);
    CHECK(k.find("ok 4 future # SKIP requires 'livepatch'\n") != std::string::npos);
    CHECK(k.find("# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:1\n") != std::string::npos);
}

TEST_CASE("JUnit XML is well formed and counts verdicts") {
    const auto x = report_junit(sample());
    CHECK(well_formed_xml(x));
    CHECK(x.find("<testsuite name=\"klpemu\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\">") !=
          std::string::npos);
    CHECK(x.find("name=\"wrong &lt;result&gt;\"") != std::string::npos);
    CHECK(x.find("<property name=\"kernel\" value=\"6.17\"/>") != std::string::npos);
    CHECK(x.find("<skipped message=\"requires &apos;livepatch&apos;\"/>") != std::string::npos);
}

TEST_CASE("text: one line per scenario, details for failures, a summary") {
    const auto t = report_text(sample());
    CHECK(
        t.starts_with("PASS  calls [basics/calls.toml] (kernel 6.17, 120 instructions, 180 cycles, "
                      "1 finding)\n"
                      "FAIL  wrong <result> [bad/wrong.toml]"));
    CHECK(t.find("wrong.toml:9:1: expectation failed: f returns 1: f() returned 2\n") != std::string::npos);
    CHECK(t.find("-x\n+y\n") != std::string::npos);
    CHECK(t.find("unknown key 'x' in [machine]") != std::string::npos);
    CHECK(t.ends_with("\n1 passed, 1 failed, 1 errors, 1 skipped\n"));
}

TEST_CASE("exit status: 0 pass/skip, 1 fail, 2 error") {
    CHECK(exit_status(Summary{3, 0, 0, 2}) == 0);
    CHECK(exit_status(Summary{3, 1, 0, 0}) == 1);
    CHECK(exit_status(Summary{3, 1, 1, 0}) == 2);
}

TEST_CASE("Chrome trace: metadata, X spans from calls and returns, i instants") {
    std::ostringstream out;
    ChromeTrace trace(out);
    auto& p = trace.add_process("calls");
    const int task = p.task_track("worker");
    const int cpu = p.cpu_track(1);
    CallSpanTracker spans(p, task);
    spans.call("outer", 0x100, 10);
    spans.call("inner", 0x200, 12);
    spans.ret(0x200, 20);      // inner returns.
    spans.call("leaf", 0x300, 21);
    spans.ret(0x100, 30);      // outer returns: leaf never returned (a hijack); closed too.
    spans.ret(0x999, 31);      // Matches nothing: ignored.
    spans.call("open", 0x400, 40);
    spans.finish(50);
    p.complete(cpu, "worker", "task", 5, 50);
    p.instant(task, "patch", "patch", 25, {{"where", "f"}});

    REQUIRE(trace.finish());
    const auto j = nlohmann::json::parse(out.str());
    REQUIRE(j.contains("traceEvents"));
    CHECK(j["displayTimeUnit"] == "ns");
    CHECK(j["traceEvents"].size() == trace.events_written());
    std::vector<std::tuple<std::string, uint64_t, uint64_t>> spans_seen;
    int instants = 0;
    int metadata = 0;
    for (const auto& e : j["traceEvents"]) {
        if (e["ph"] == "X" && e["cat"] == "function") {
            spans_seen.emplace_back(e["name"], e["ts"], e["dur"]);
            CHECK(e["tid"] == task);
        }
        instants += e["ph"] == "i";
        metadata += e["ph"] == "M";
    }
    CHECK(spans_seen == std::vector<std::tuple<std::string, uint64_t, uint64_t>>{
                            {"inner", 12, 8}, {"leaf", 21, 9}, {"outer", 10, 20}, {"open", 40, 10}});
    CHECK(instants == 1);
    CHECK(metadata == 3); // process_name + cpu1 + worker.
}

TEST_CASE("Chrome trace: an event is written when it is made, not kept until the end") {
    std::ostringstream out;
    ChromeTrace trace(out);
    auto& p = trace.add_process("stream");
    CallSpanTracker spans(p, p.task_track("worker"));
    spans.call("f", 0x100, 1);
    CHECK(trace.events_written() == 0); // An open span is not an event yet.
    spans.ret(0x100, 9);
    CHECK(trace.events_written() == 1);
    CHECK(out.str().find("\"name\":\"f\"") != std::string::npos);
    p.instant(p.cpu_track(0), "patch", "patch", 10);
    CHECK(out.str().find("\"name\":\"patch\"") != std::string::npos);
    const auto before_finish = out.str().size();
    REQUIRE(trace.finish());
    CHECK(out.str().size() > before_finish); // Metadata and the tail come last.
    const auto j = nlohmann::json::parse(out.str());
    CHECK(j["traceEvents"].size() == 5); // f, patch, process_name, worker, cpu0.
}

TEST_CASE("Chrome trace: finish reports a stream that failed") {
    std::ostringstream out;
    ChromeTrace trace(out);
    out.setstate(std::ios::badbit);
    CHECK_FALSE(trace.finish());
}
