// The livepatch selftest scenarios "beyond the kernel's own run": every one of them also runs
// with `klpemu run --policies all`, and the JSON report says per policy whether the transition
// would have completed safely had it used that policy's stack traces (stats.unwind.POLICY.
// transition: a reliable, clean trace switches the task; premature when the true stack held a
// function being replaced). kunwind and cfi, the unwinders arm64 livepatch may rely on, must
// never be unsound at any instruction boundary and never switch a task prematurely; no
// consistency-violation or premature-switch may fire. The seed scenario where fp-naive is known
// to switch too early shows the verdict is not vacuous.
#include "support/subprocess.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using klpemu::test::run_process;

namespace {

nlohmann::json run_json(const std::string& path) {
    const auto r = run_process({KLPEMU_BINARY, "run", "--policies", "all", "--format", "json",
                                std::string(KLPEMU_SOURCE_ROOT) + "/" + path});
    INFO(r.err);
    REQUIRE(r.exit_status == 0); // Observed policies never change a verdict.
    return nlohmann::json::parse(r.out);
}

} // namespace

TEST_CASE("kselftest scenarios: kunwind and cfi would complete every transition safely") {
    const auto doc = run_json("scenarios/livepatch/kselftest");
    REQUIRE(doc["scenarios"].size() >= 10);
    uint64_t asked = 0;
    for (const auto& s : doc["scenarios"]) {
        CAPTURE(s["file"].get<std::string>());
        if (s["status"] == "skip") {
            continue;
        }
        CHECK(s["status"] == "pass");
        for (const auto& f : s["findings"]) {
            CHECK(f["kind"] != "consistency-violation");
            CHECK(f["kind"] != "premature-switch");
            CHECK(f["kind"] != "unsound-reliable-trace");
        }
        REQUIRE(s["stats"].contains("unwind"));
        const auto& u = s["stats"]["unwind"];
        REQUIRE(u.size() == 4);
        for (const char* policy : {"kunwind", "cfi"}) {
            CAPTURE(policy);
            CHECK(u[policy]["unsound"].get<uint64_t>() == 0);
            if (u[policy].contains("transition")) {
                const auto& t = u[policy]["transition"];
                CHECK(t["premature"].get<uint64_t>() == 0);
                CHECK(t["safe"] == true);
                asked += t["asked"].get<uint64_t>();
            }
        }
    }
    CHECK(asked > 0); // Some transition really asked for stacks.
}

TEST_CASE("the transition verdict catches fp-naive switching early") {
    const auto doc = run_json("scenarios/seed/unwinder-policy-matters-kunwind.toml");
    REQUIRE(doc["scenarios"].size() == 1);
    const auto& u = doc["scenarios"][0]["stats"]["unwind"];
    REQUIRE(u["fp-naive"].contains("transition"));
    CHECK(u["fp-naive"]["transition"]["premature"].get<uint64_t>() > 0);
    CHECK(u["fp-naive"]["transition"]["safe"] == false);
    REQUIRE(u["kunwind"].contains("transition"));
    CHECK(u["kunwind"]["transition"]["safe"] == true);
    CHECK(u["cfi"]["transition"]["safe"] == true);
}
