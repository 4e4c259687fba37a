// A kernel object of livepatch/freezable-kthread, linked with the bundled vmlinux: one step of
// a kthread's loop does its work, then sleeps 10 ms freezably (set_current_state(
// TASK_INTERRUPTIBLE | TASK_FREEZABLE), then schedule_timeout, as
// wait_event_freezable_timeout does).
#include <linux/kernel.h>
#include <linux/sched.h>

int freezable_demo_count;

noinline int freezable_demo_work(void)
{
	return READ_ONCE(freezable_demo_count) + 1;
}

long freezable_demo_step(long unused)
{
	WRITE_ONCE(freezable_demo_count, freezable_demo_work());
	set_current_state(TASK_INTERRUPTIBLE | TASK_FREEZABLE);
	schedule_timeout(1);
	__set_current_state(TASK_RUNNING);
	return 0;
}
