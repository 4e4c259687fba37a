// scenarios/shell_pids.h: the kselftest view writes every klp_pids= list as the expected texts
// do, and leaves other parameters and lines alone.
#include "scenarios/shell_pids.h"

#include <doctest/doctest.h>

using klpemu::scenario::hide_klp_pids;

TEST_CASE("hide_klp_pids writes a klp_pids list as <PID1,PID2,...>") {
    CHECK(hide_klp_pids("% insmod test_modules/test_klp_syscall.ko klp_pids=3,4") ==
          "% insmod test_modules/test_klp_syscall.ko klp_pids=<PID1,PID2,...>");
    CHECK(hide_klp_pids("% insmod test_modules/m.ko klp_pids=17 replace=1") ==
          "% insmod test_modules/m.ko klp_pids=<PID1,PID2,...> replace=1");
    CHECK(hide_klp_pids("% insmod test_modules/m.ko replace=1") ==
          "% insmod test_modules/m.ko replace=1");
    CHECK(hide_klp_pids("livepatch: 'test_klp_syscall': patching complete") ==
          "livepatch: 'test_klp_syscall': patching complete");
}
