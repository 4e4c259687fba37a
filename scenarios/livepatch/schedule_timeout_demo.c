// A kernel object of livepatch/schedule-timeout, linked with the bundled vmlinux: the corner
// cases of schedule_timeout() (the bundled kernel's workqueue.c), each run by a `call` step.
#include <linux/kernel.h>
#include <linux/sched.h>

/* A negative timeout is an error: no sleep, TASK_RUNNING again, 0 left. */
long timeout_negative(long unused)
{
	set_current_state(TASK_INTERRUPTIBLE);
	return schedule_timeout(-5);
}

/* With TASK_RUNNING nothing sleeps: schedule() yields once, all 3 jiffies are left. */
long timeout_running(long unused)
{
	return schedule_timeout(3);
}

/* A real sleep of 2 jiffies (2,000 instructions of the clock): nothing left. */
long timeout_two_jiffies(long unused)
{
	set_current_state(TASK_UNINTERRUPTIBLE);
	return schedule_timeout(2);
}

/* MAX_SCHEDULE_TIMEOUT arms no timer: a plain schedule() that nothing here ever ends. */
long timeout_max(long unused)
{
	set_current_state(TASK_INTERRUPTIBLE);
	return schedule_timeout(MAX_SCHEDULE_TIMEOUT);
}
