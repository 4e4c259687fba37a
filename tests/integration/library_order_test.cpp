// One `klpemu run` boots a machine per scenario, and the machines of a process share what is
// safe to share (assembled guest objects, cycle models, compiled C objects). A scenario's report
// must not depend on what ran before it in the same process: the bundled library is run in
// its order and in reverse, and every scenario's verdict, expectations, findings and statistics
// (instructions and cycles) must be the same. A cycle model whose costs depended on the words
// it had decoded before (LLVM's per-opcode descriptor cache) made 27 scenarios differ here.
#include "support/subprocess.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using klpemu::test::run_process;

TEST_CASE("every bundled scenario reports the same whatever ran before it in the process") {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(
             std::filesystem::path(KLPEMU_SOURCE_ROOT) / "scenarios")) {
        if (e.is_regular_file() && e.path().extension() == ".toml") {
            files.push_back(e.path().string());
        }
    }
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() > 100);
    auto run = [](const std::vector<std::string>& order) {
        std::vector<std::string> argv{KLPEMU_BINARY, "run", "--format", "json"};
        argv.insert(argv.end(), order.begin(), order.end());
        const auto r = run_process(argv);
        INFO(r.err);
        REQUIRE(r.exit_status == 0);
        const nlohmann::json report = nlohmann::json::parse(r.out);
        std::map<std::string, nlohmann::json> by_file;
        for (const auto& s : report["scenarios"]) {
            by_file[s["file"].get<std::string>()] = s;
        }
        return by_file;
    };
    const auto forward = run(files);
    std::vector<std::string> reversed(files.rbegin(), files.rend());
    const auto backward = run(reversed);
    REQUIRE(forward.size() == files.size());
    REQUIRE(backward.size() == files.size());
    for (const auto& [file, report] : forward) {
        CAPTURE(file);
        CHECK(report == backward.at(file));
    }
}
