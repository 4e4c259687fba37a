// klpemu's bundled vmlinux for livepatch scenarios. On a kernel, a livepatch module patches the
// running kernel; a scenario that only wants to exercise a module should not have to write that
// kernel. So a scenario that requires "livepatch", declares a module and no kernel object
// named "vmlinux" gets klpemu's own (scenarios/livepatch/kselftest/kernel/bundled.c: printk's
// console_loglevel, cmdline_proc_show behind `cat /proc/cmdline`, getpid through el0_svc,
// workqueues, kernel_thread); the livepatch engine adds printk, seq_file, the allocator, the
// module notifier states and the livepatch core's entry points. Kernel objects the scenario
// declares under other names are linked with it.
#pragma once

#include "scenarios/scenario_file.h"

namespace klpemu::scenario {

// The source of the bundled vmlinux.
std::filesystem::path bundled_kernel_source();

// Contract: called once per parsed scenario, after its [[object]]s; adds the bundled "vmlinux"
// as the first object when `s` requires livepatch, declares a module or livepatch object and
// no object named "vmlinux".
// Returns whether it did.
bool add_bundled_kernel(Scenario& s);

} // namespace klpemu::scenario
