// The selftests' view of a transcript (scenarios/kselftest_view.h): exactly the lines
// functions.sh's check_result keeps, chosen by each line's kind, never by its text alone.
#include "scenarios/kselftest_view.h"

#include <doctest/doctest.h>

using namespace klpemu::scenario;

TEST_CASE("check_result's grep: 'livepatch:' or 'test_klp', minus taint messages") {
    CHECK(kselftest_keeps("livepatch: enabling patch 'p'"));
    CHECK(kselftest_keeps("test_klp_livepatch: this has been live patched"));
    CHECK(kselftest_keeps("% rmmod test_klp_callbacks_mod"));
    CHECK_FALSE(kselftest_keeps("livepatch_cmdline_proc_show <-el0_svc_loop"));
    CHECK_FALSE(kselftest_keeps("% rmmod klp_busy"));
    CHECK_FALSE(kselftest_keeps("test_klp_livepatch: loading out-of-tree module taints kernel."));
    CHECK_FALSE(kselftest_keeps("livepatch: tainting kernel with TAINT_LIVEPATCH"));
}

TEST_CASE("the view keeps logged shell lines and kernel log lines, nothing else") {
    Transcript t;
    t.action("insmod test_modules/test_klp_livepatch.ko", LineKind::ShellLog);
    t.event("livepatch: enabling patch 'test_klp_livepatch'", LineKind::KernelLog);
    t.event("test_klp_livepatch: loading out-of-tree module taints kernel.", LineKind::KernelLog);
    t.action("run 100");
    t.action("echo 'func klp_try_switch_task +p' > /sys/kernel/debug/test_klp", LineKind::Action);
    t.event("cpu0: test_klp_worker starts");
    t.event("test_klp_livepatch: this has been live patched", LineKind::ShellOutput);
    t.event("test_klp_livepatch: this has been live patched", LineKind::KernelLog);
    t.event("livepatch_cmdline_proc_show <-test_klp_caller", LineKind::Other);
    t.event("kernel log line without the keywords", LineKind::KernelLog);
    t.action("rmmod test_klp_livepatch", LineKind::ShellLog);
    CHECK(kselftest_view(t) == "% insmod test_modules/test_klp_livepatch.ko\n"
                               "livepatch: enabling patch 'test_klp_livepatch'\n"
                               "test_klp_livepatch: this has been live patched\n"
                               "% rmmod test_klp_livepatch\n");
    // The golden transcript still has every line, in order.
    CHECK(t.lines().size() == 11);
    CHECK(t.kinds().size() == t.lines().size());
}

TEST_CASE("a multi-line event keeps its kind on every line") {
    Transcript t;
    t.event("livepatch: one\nlivepatch: two", LineKind::KernelLog);
    t.event("test_klp: out\ntest_klp: out2", LineKind::ShellOutput);
    CHECK(kselftest_view(t) == "livepatch: one\nlivepatch: two\n");
}
