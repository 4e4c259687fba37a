// klpemu's bundled vmlinux: the kernel a livepatch scenario gets when it declares no kernel
// object named "vmlinux" (scenarios/bundled_kernel.h), so that a scenario can be a livepatch
// module and its steps. It is the selftest mini kernel of this directory in one translation
// unit, loaded as the one object "vmlinux":
//   vmlinux.c    cmdline_proc_show (`cat /proc/cmdline`), meminfo_proc_show
//   printk.c     console_loglevel
//   syscall.c    el0_svc -> invoke_syscall -> sys_call_table (getpid, read), for user tasks
//   workqueue.c  schedule_work, flush_work, msleep, completions
//   fork.c       kernel_thread (a fork of the calling task, klp_copy_process)
// printk, seq_file, the allocator, module state notifications and the livepatch core's
// guest-side entry points are the livepatch engine's guest code (patcher/livepatch/guest).
// A scenario may still declare kernel objects of its own; they are linked with this one.
#include "vmlinux.c"
#include "printk.c"
#include "syscall.c"
#include "workqueue.c"
#include "fork.c"
