// The shell steps the selftest scenarios need beyond insmod/rmmod/echo to livepatch sysfs:
// `grep 'TEXT' /proc/NAME > /dev/kmsg`, `cat /proc/NAME > /dev/kmsg` and writing a module
// parameter through /sys/module (scenarios/action_table.cpp).
#include "scenarios/action_table.h"

#include <doctest/doctest.h>

using namespace klpemu::scenario;

namespace {
ShellAction shell(std::string_view text) {
    auto a = parse_action(text);
    REQUIRE(a.ok());
    const auto* s = std::get_if<ShellAction>(&*a);
    REQUIRE(s != nullptr);
    return *s;
}
} // namespace

TEST_CASE("grep and cat of /proc, to the shell or to the kernel log") {
    auto g = shell("grep 'live patched' /proc/cmdline > /dev/kmsg");
    CHECK(g.kind == ShellAction::Kind::Cat);
    CHECK(g.name == "/proc/cmdline");
    CHECK(g.grep == "live patched");
    CHECK(g.value == "/dev/kmsg");
    CHECK(g.shown.empty()); // The selftests do not log their greps.
    auto to_shell = shell("grep 'live' /proc/meminfo");
    CHECK(to_shell.grep == "live");
    CHECK(to_shell.value.empty());
    auto c = shell("cat /proc/cmdline > /dev/kmsg");
    CHECK(c.grep.empty());
    CHECK(c.value == "/dev/kmsg");
    CHECK(shell("cat /proc/cmdline").value.empty());

    CHECK_FALSE(parse_action("grep live /proc/cmdline").ok()); // TEXT must be quoted
    CHECK_FALSE(parse_action("grep '' /proc/cmdline").ok());   // and not empty
    CHECK_FALSE(parse_action("grep 'x' /sys/kernel/livepatch/p/enabled").ok());
    CHECK_FALSE(parse_action("cat /proc/cmdline > /tmp/out").ok());
    CHECK_FALSE(parse_action("cat /sys/kernel/livepatch/p/enabled > /dev/kmsg").ok());
}

TEST_CASE("echo to a module parameter is a logged shell step") {
    auto e = shell("echo -19 > /sys/module/test_klp_callbacks_demo/parameters/pre_patch_ret");
    CHECK(e.kind == ShellAction::Kind::Echo);
    CHECK(e.value == "-19");
    CHECK(e.name == "/sys/module/test_klp_callbacks_demo/parameters/pre_patch_ret");
    CHECK(e.shown == "echo -19 > /sys/module/test_klp_callbacks_demo/parameters/pre_patch_ret");
    CHECK_FALSE(parse_action("echo 1 > /sys/kernel/debug/kprobes/enabled").ok());
}
