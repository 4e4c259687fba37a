// A kernel object of livepatch/uninterruptible-sleeper, linked with the bundled vmlinux: a
// kthread sleeps in TASK_UNINTERRUPTIBLE (the "D" state) inside dstate_demo_wait, with no timer
// and nothing that will ever wake it, as a task stuck on I/O that never completes does.
#include <linux/kernel.h>
#include <linux/sched.h>

noinline void dstate_demo_wait(void)
{
	set_current_state(TASK_UNINTERRUPTIBLE);
	schedule();
	__set_current_state(TASK_RUNNING);
}

long dstate_demo_step(long unused)
{
	dstate_demo_wait();
	return 0;
}
