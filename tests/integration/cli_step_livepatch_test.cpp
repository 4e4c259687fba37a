// `klpemu step` through a livepatch transition (issue 13): the livepatch engine's DebugView
// (patcher/livepatch/debug_view.h) seen end to end on the bundled busy-kthread-reverse scenario.
// The scripted session stops at every transition step, shows each task's patch_state,
// TIF_PATCH_PENDING and klp_try_switch_task's verdict, the func stack and what the ftrace
// handler gives each task, steps and reverse-steps, and follows the reversed transition to its
// end; its output is compared with the golden file beside the script.
#include "support/run_process.h"

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <string>

using namespace klpemu::test;

namespace {

const std::string kScenario =
    std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/livepatch/busy-kthread-reverse.toml";

} // namespace

TEST_CASE("klpemu step: a livepatch transition session matches its golden output") {
    const auto r = run_klpemu(fmt::format("step {} --script {}/step/livepatch-transition.cmds",
                                          kScenario, KLPEMU_TEST_DATA));
    CHECK(r.status == 0);
    const std::string expected = slurp(KLPEMU_TEST_DATA "/step/livepatch-transition.expected");
    REQUIRE_FALSE(expected.empty());
    CHECK(r.output == expected);
}

TEST_CASE("klpemu step: the livepatch shell's steps play under the stepper as under run") {
    // insmod, cat, echo and wait reach the livepatch feature (they did not: the stepped backend
    // refused every feature action, and the session ended after the first step).
    const auto r = run_klpemu(fmt::format("step {} -c continue", kScenario));
    CHECK(r.status == 0);
    CHECK(r.output.find("#402091 end of the timeline\n") != std::string::npos);
}

TEST_CASE("klpemu step: a timeline step the backend refuses is named at the end stop") {
    const auto r = run_klpemu(
        fmt::format("step {}/step/livepatch-insmod-twice.toml -c continue", KLPEMU_TEST_DATA));
    CHECK(r.status == 0);
    CHECK(r.output.find("end of the timeline; a step failed: insmod: 'klp_cmdline' is already "
                        "loaded") != std::string::npos);
}
