// `klpemu step` through a livepatch transition (issue 13): the livepatch engine's DebugView
// (patcher/livepatch/debug_view.h) seen end to end on the bundled busy-kthread-reverse scenario.
// The scripted session stops at every transition step, shows each task's patch_state,
// TIF_PATCH_PENDING and klp_try_switch_task's verdict, the func stack and what the ftrace
// handler gives each task, steps and reverse-steps, and follows the reversed transition to its
// end; its output is compared with the golden file beside the script. gdb-multiarch sees the
// same views through the stub's `monitor` commands.
#include "support/gdb_stub.h"
#include "support/run_process.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

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

TEST_CASE("klpemu step: break FILE:LINE through the line tables matches its golden output") {
    const auto r = run_klpemu(
        fmt::format("step {} --script {}/step/break-line.cmds", kScenario, KLPEMU_TEST_DATA));
    CHECK(r.status == 0);
    const std::string expected = slurp(KLPEMU_TEST_DATA "/step/break-line.expected");
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

TEST_CASE("klpemu gdb: monitor commands show livepatch's transition view") {
    const auto gdb = run_process({"/usr/bin/env", "sh", "-c", "command -v gdb-multiarch"});
    REQUIRE_MESSAGE(gdb.exit_status == 0, "gdb-multiarch is missing: run scripts/install-deps.sh");
    TempDir dir;
    const auto out_path = dir.path() / "stub.out";
    const GdbStub stub = start_gdb_stub(kScenario, out_path);
    const auto r = run_process(
        gdb_batch(stub.port, {"monitor break on transition", "continue", "monitor tasks",
                              "monitor bt busy_kthread", "monitor patches", "detach"}));
    const std::string o = r.out + r.err; // gdb prints `monitor` output on stderr in batch mode.
    CHECK_MESSAGE(o.find("busy_kthread         kthread  on-cpu      1  unpatched    set  "
                         "livepatch: would refuse: running on cpu1 (-EBUSY)") != std::string::npos,
                  o);
    CHECK_MESSAGE(o.find("  livepatch: klp_try_switch_task now: would refuse: running on cpu1 "
                         "(-EBUSY)") != std::string::npos,
                  o);
    CHECK_MESSAGE(o.find("livepatch: func stack of busy_work_func: new_busy_work_func <- "
                         "original") != std::string::npos,
                  o);
    // The stub ends when gdb detaches; it is killed only if it hangs.
    CHECK_MESSAGE(wait_exit(stub.pid) == 0, "the gdb stub did not end after gdb detached");
    CHECK(slurp(out_path).find("klpemu: gdb disconnected") != std::string::npos);
}
