// `klpemu run --report overhead` end to end: the built binary prints, after the usual verdicts,
// one row per ftrace trampoline variant whose numbers are exactly what
// patcher::measure_ftrace_overhead() returns; JSON gains "reports" without touching the
// existing keys; and the exit status still follows the scenarios alone.
#include "patcher/ftrace_overhead.h"
#include "support/subprocess.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

const std::string k_pass = std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/basics/loop_and_call.toml";
const std::string k_fail = std::string(KLPEMU_TEST_DATA) + "/scenarios/fail/wrong_return.toml";
const std::vector<std::string> k_cores{"cortex-a53", "cortex-a72", "neoverse-n1"};

test::ProcessResult klpemu_run(std::vector<std::string> args) {
    args.insert(args.begin(), {KLPEMU_BINARY, "run"});
    return test::run_process(args);
}

// What the library measures, keyed by variant name then core.
std::map<std::string, std::map<std::string, OverheadRow>> measured() {
    auto rows = measure_ftrace_overhead(k_cores, all_trampoline_variants());
    REQUIRE_MESSAGE(rows.ok(), (rows.ok() ? "" : rows.error().message));
    std::map<std::string, std::map<std::string, OverheadRow>> out;
    for (const OverheadRow& row : *rows) {
        out[std::string(trampoline_layout(row.variant).name)][row.core] = row;
    }
    return out;
}

// The whitespace-separated words of each line of `text` that follows `header`.
std::vector<std::vector<std::string>> table_after(const std::string& text,
                                                  const std::string& header) {
    std::vector<std::vector<std::string>> rows;
    const size_t at = text.find(header);
    if (at == std::string::npos) {
        return rows;
    }
    std::istringstream in(text.substr(at + header.size()));
    std::string line;
    std::getline(in, line); // The rest of the header line.
    while (std::getline(in, line) && !line.empty()) {
        std::istringstream words(line);
        std::vector<std::string> row;
        for (std::string w; words >> w;) {
            row.push_back(w);
        }
        rows.push_back(row);
    }
    return rows;
}

} // namespace

TEST_CASE("klpemu run --report overhead prints the library's numbers for all five variants") {
    const auto expected = measured();
    auto r = klpemu_run({k_pass, "--report", "overhead"});
    INFO(r.out, r.err);
    CHECK(r.exit_status == 0);
    CHECK(r.err.empty());
    // The usual report comes first, unchanged.
    REQUIRE(r.out.find("1 passed, 0 failed, 0 errors, 0 skipped\n") != std::string::npos);
    CHECK(r.out.find("1 passed") < r.out.find("insns/call"));
    const auto rows = table_after(r.out, "variant     insns/call  cycles/call (cortex-a53)  "
                                         "cycles/call (cortex-a72)  cycles/call (neoverse-n1)");
    REQUIRE(rows.size() == 5);
    std::vector<std::string> names;
    for (const auto& row : rows) {
        REQUIRE(row.size() == 5);
        names.push_back(row[0]);
        REQUIRE(expected.contains(row[0]));
        const auto& by_core = expected.at(row[0]);
        CHECK(row[1] == fmt::format("{}", by_core.at("cortex-a53").instructions_per_call()));
        for (size_t i = 0; i < k_cores.size(); ++i) {
            CHECK(row[2 + i] == fmt::format("{:.1f}", by_core.at(k_cores[i]).cycles_per_call()));
        }
    }
    CHECK(names == std::vector<std::string>{"regs-v3", "regs-v4", "regs", "args", "call-ops"});
    // The enabling cost follows the table.
    CHECK(r.out.find(fmt::format("cortex-a53 {} cycles",
                                 expected.at("args").at("cortex-a53").enable_cycles)) !=
          std::string::npos);
}

TEST_CASE("klpemu run --report overhead --format json adds reports.overhead, keeps the rest") {
    const auto expected = measured();
    auto plain = klpemu_run({k_pass, "--format", "json"});
    auto r = klpemu_run({k_pass, "--format", "json", "--report", "overhead"});
    INFO(r.out, r.err);
    REQUIRE(r.exit_status == 0);
    const auto doc = nlohmann::json::parse(r.out);
    auto without = doc;
    without.erase("reports");
    CHECK(without == nlohmann::json::parse(plain.out));
    const auto& overhead = doc.at("reports").at("overhead");
    REQUIRE(overhead.size() == 5);
    for (const auto& entry : overhead) {
        const std::string variant = entry.at("variant");
        CAPTURE(variant);
        REQUIRE(expected.contains(variant));
        const auto& by_core = expected.at(variant);
        CHECK(entry.at("instructions_per_call").get<uint64_t>() ==
              by_core.at("cortex-a53").instructions_per_call());
        for (const std::string& core : k_cores) {
            CHECK(entry.at("cycles_per_call").at(core).get<double>() ==
                  by_core.at(core).cycles_per_call());
            CHECK(entry.at("enable_cycles").at(core).get<uint64_t>() ==
                  by_core.at(core).enable_cycles);
        }
    }
}

TEST_CASE("klpemu run --report overhead keeps the scenarios' exit status") {
    auto r = klpemu_run({k_fail, "--report", "overhead"});
    INFO(r.out, r.err);
    CHECK(r.exit_status == 1);
    CHECK(r.out.find("call-ops") != std::string::npos);
    auto bad = klpemu_run({k_pass, "--report", "nonsense"});
    CHECK(bad.exit_status == 2);
    CHECK(bad.err.find("nonsense") != std::string::npos);
}

TEST_CASE("klpemu run --cycles picks the cycle model and rejects unknown ones") {
    auto pipe = klpemu_run({k_pass, "--cycles", "pipeline"});
    INFO(pipe.out, pipe.err);
    CHECK(pipe.exit_status == 0);
    CHECK(pipe.err.empty()); // llvm-mca's one-time call/return warnings are muted.
    CHECK(pipe.out.find("1 passed") != std::string::npos);
    auto bad = klpemu_run({k_pass, "--cycles", "exact"});
    CHECK(bad.exit_status == 2);
    CHECK(bad.err.find("exact") != std::string::npos);
}
