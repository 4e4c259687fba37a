// The livepatch selftests' view of a run: what tools/testing/selftests/livepatch/functions.sh's
// check_result compares with its expected text. The script logs its own shell lines to
// /dev/kmsg (`% insmod test_modules/NAME.ko ...`, `% rmmod NAME`, `% echo ... > /sys/...`) and
// keeps, from the kernel log after its canary, the lines containing `livepatch:` or `test_klp`,
// minus the `(tainting|taints) kernel` messages. A scenario's transcript holds the same lines
// (and more: klpemu's own events, command output, findings); this picks the selftests' part by
// each line's kind (transcript.h), so `klpemu run --kselftest` can be diffed against the
// kernel's expected text byte for byte.
#pragma once

#include "scenarios/transcript.h"

#include <string>
#include <string_view>

namespace klpemu::scenario {

// True if check_result keeps this kernel log line (the grep -e/grep -v of functions.sh).
bool kselftest_keeps(std::string_view log_line);

// The view of `t`: its ShellLog and KernelLog lines check_result keeps, each ending in '\n', after
// the line rewrites the selftests' expected texts use (see kselftest_view.cpp).
std::string kselftest_view(const Transcript& t);

} // namespace klpemu::scenario
