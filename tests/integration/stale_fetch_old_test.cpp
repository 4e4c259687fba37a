// The other outcome the architecture allows (Arm ARM B2.2.5): the bundled SMP ftrace and CMODX
// scenarios run under `[machine] stale_fetch = "old"`, where a CPU that has not synchronised
// since a live write runs the old word. Results are unchanged (every expectation holds, every
// task exits with the value the `new` golden records) and the transcript shows the calls that
// did not happen (`cpuN executes the old nop, not the new bl …`). The `old` transcripts are
// goldens of their own, NAME.old.expected next to the scenario (KLPEMU_UPDATE_GOLDEN=1
// rewrites them).
#include "scenarios/golden.h"
#include "scenarios/machine_backend.h"
#include "scenarios/runner.h"
#include "scenarios/scenario_parser.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

using namespace klpemu::scenario;

namespace {

// "worker1 exited: 19173" lines, in order.
// Each task's exit value; sorted, as the old words' timing may change which task ends first.
std::vector<std::string> exits(const std::string& transcript) {
    std::vector<std::string> out;
    std::istringstream in(transcript);
    std::string line;
    while (std::getline(in, line)) {
        if (line.find(" exited: ") != std::string::npos) {
            out.push_back(line);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST_CASE("stale_fetch = old: the SMP ftrace scenarios keep their results and show the old words") {
    const std::filesystem::path root = std::filesystem::path(KLPEMU_SOURCE_ROOT) / "scenarios";
    const bool update = std::getenv("KLPEMU_UPDATE_GOLDEN") != nullptr;
    Runner runner(machine_backend_factory());
    for (const char* rel :
         {"ftrace/smp-enable-disable.toml", "cmodx/guest-patch.toml", "cmodx/write-back.toml"}) {
        INFO(rel);
        const std::filesystem::path file = root / rel;
        auto parsed = parse_scenario_file(file);
        REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
        CHECK(parsed->machine.cpus > 1);
        CHECK(parsed->machine.stale_fetch == "new");

        auto old = std::move(*parsed);
        old.machine.stale_fetch = "old";
        old.file = file.parent_path() / (file.stem().string() + ".old.toml");
        RunOptions options;
        options.update_golden = update;
        const ScenarioResult result = runner.run(old, options);
        INFO(result.message, "\n", result.diff);
        for (const auto& e : result.expectations) {
            INFO(e.text, ": ", e.detail);
            CHECK(e.passed);
        }
        CHECK(status_name(result.status) == std::string_view("pass"));

        auto golden_new = read_golden(golden_path(file));
        REQUIRE(golden_new.ok());
        REQUIRE(golden_new->has_value());
        CHECK(exits(result.transcript) == exits(**golden_new));
        CHECK(result.transcript.find(" executes the old ") != std::string::npos);
    }
}
