// `klpemu run --kselftest`: standard output is exactly the selftests' view (one scenario) or
// the views under `==> FILE <==` headers (several), the verdicts go to standard error, and the
// exit status is run's. Also the shell's located errors for an insmod nobody can do.
#include "support/contains.h"
#include "support/run_process.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"

#include <doctest/doctest.h>

#include <string>

using klpemu::test::contains;
using klpemu::test::run_klpemu;
using klpemu::test::run_process;
using klpemu::test::slurp;

namespace {

const std::string k_root = KLPEMU_SOURCE_ROOT;
const std::string k_basic =
    k_root + "/scenarios/livepatch/kselftest/test-livepatch/basic-function-patching.toml";
const std::string k_not_present =
    k_root + "/scenarios/livepatch/kselftest/test-callbacks/target-module-not-present.toml";

std::string livepatch_scenario(const std::string& steps) {
    return "[scenario]\nrequires = [\"livepatch\"]\n\n"
           "[[object]]\nname = \"vmlinux\"\nkind = \"kernel\"\nsource = \"" +
           k_root + "/scenarios/livepatch/kselftest/kernel/vmlinux.c\"\n\n" +
           "[[object]]\nname = \"test_klp_livepatch\"\nkind = \"livepatch\"\nsource = \"" + k_root +
           "/scenarios/livepatch/kselftest/test_modules/test_klp_livepatch.c\"\n" + steps;
}

} // namespace

TEST_CASE("--kselftest with one file: stdout is the kernel's expected text, verdicts on stderr") {
    const auto r = run_process({KLPEMU_BINARY, "run", "--kselftest", k_basic});
    CHECK(r.exit_status == 0);
    CHECK(r.out == slurp(std::string(KLPEMU_TEST_DATA) +
                         "/kselftest/expected/test-livepatch/basic-function-patching.txt"));
    CHECK(contains(r.err, "PASS  test-livepatch/basic-function-patching"));
    // Without --kselftest the report is on stdout as usual.
    const auto plain = run_process({KLPEMU_BINARY, "run", k_basic});
    CHECK(contains(plain.out, "1 passed"));
    CHECK(plain.err.empty());
}

TEST_CASE("--kselftest with several files: one view per scenario under its file name") {
    const auto r = run_process({KLPEMU_BINARY, "run", "--kselftest", k_basic, k_not_present});
    CHECK(r.exit_status == 0);
    const std::string first =
        "==> " + k_basic + " <==\n% insmod test_modules/test_klp_livepatch.ko\n";
    CHECK(r.out.starts_with(first));
    CHECK(contains(r.out, "% rmmod test_klp_livepatch\n\n==> " + k_not_present + " <==\n"));
    CHECK(contains(r.err, "2 passed"));
}

TEST_CASE("a skipped selftest scenario has an empty view and the skip exit status") {
    const std::string kprobe = k_root + "/scenarios/livepatch/kselftest/test-kprobe/"
                                        "livepatch-interaction-with-kprobed-function-with-post-"
                                        "handler.toml";
    const auto r =
        run_process({KLPEMU_BINARY, "run", "--kselftest", "--skip-exit-code", "77", kprobe});
    CHECK(r.exit_status == 77);
    CHECK(r.out.empty());
    CHECK(contains(r.err, "arm64 has no KPROBES_ON_FTRACE"));
}

TEST_CASE("insmod of a module the scenario does not declare names the action, object and line") {
    klpemu::test::TempDir dir;
    const auto undeclared =
        dir.write("u.toml", livepatch_scenario("deferred = true\n\n[[step]]\ndo = \"insmod "
                                               "test_klp_nothere\"\n"));
    auto r = run_klpemu("run " + undeclared.string());
    CHECK(r.status == 2);
    CHECK(contains(r.output, "u.toml:16:"));
    CHECK(contains(r.output, "insmod test_klp_nothere: the scenario declares no module [[object]] "
                             "named 'test_klp_nothere'"));

    const auto at_start =
        dir.write("s.toml", livepatch_scenario("\n[[step]]\ndo = \"insmod test_klp_livepatch\"\n"));
    r = run_klpemu("run " + at_start.string());
    CHECK(r.status == 2);
    CHECK(contains(r.output, "s.toml:15:"));
    CHECK(contains(r.output, "insmod test_klp_livepatch: [[object]] 'test_klp_livepatch' is "
                             "loaded at start; a module insmod loads needs deferred = true"));

    const auto no_livepatch =
        dir.write("n.toml", "[[object]]\nname = \"vmlinux\"\nkind = \"kernel\"\nasm = \"\"\"\n"
                            "        .globl  f\nf:\n        ret\n\"\"\"\n\n"
                            "[[step]]\ndo = \"insmod test_klp_x\"\n");
    r = run_klpemu("run " + no_livepatch.string());
    CHECK(r.status == 2);
    CHECK(contains(r.output, "n.toml:11:"));
    CHECK(contains(r.output, "insmod test_klp_x: no feature of this scenario loads modules with "
                             "the shell: it needs [scenario] requires = [\"livepatch\"] and a "
                             "deferred [[object]] named 'test_klp_x'"));
}

TEST_CASE(
    "the view has what the script logs: not the dynamic-debug echo, a grep to kmsg, not cat") {
    klpemu::test::TempDir dir;
    const auto file = dir.write(
        "v.toml", livepatch_scenario(
                      "deferred = true\n\n"
                      "[[step]]\ndo = \"echo 'func klp_try_switch_task +p' > "
                      "/sys/kernel/debug/dynamic_debug/control\"\n\n"
                      "[[step]]\ndo = \"insmod test_klp_livepatch\"\n\n"
                      "[[step]]\ndo = \"cat /proc/cmdline\"\n\n"
                      "[[step]]\ndo = \"grep 'live patched' /proc/cmdline > /dev/kmsg\"\n\n"
                      "[[step]]\ndo = \"grep 'nothing like this' /proc/cmdline > /dev/kmsg\"\n"));
    REQUIRE(run_klpemu("run --update " + file.string()).status == 0);
    const auto r = run_process({KLPEMU_BINARY, "run", "--kselftest", file.string()});
    CHECK(r.exit_status == 0);
    CHECK(r.out == "% insmod test_modules/test_klp_livepatch.ko\n"
                   "livepatch: enabling patch 'test_klp_livepatch'\n"
                   "livepatch: 'test_klp_livepatch': initializing patching transition\n"
                   "livepatch: 'test_klp_livepatch': starting patching transition\n"
                   "livepatch: 'test_klp_livepatch': completing patching transition\n"
                   "livepatch: 'test_klp_livepatch': patching complete\n"
                   "test_klp_livepatch: this has been live patched\n");
    // The golden transcript has every line: the echo and both outputs of /proc/cmdline.
    const std::string golden = slurp((dir.path() / "v.expected").string());
    CHECK(contains(golden, "% echo 'func klp_try_switch_task +p'"));
    CHECK(golden.find("test_klp_livepatch: this has been live patched") !=
          golden.rfind("test_klp_livepatch: this has been live patched"));
}
