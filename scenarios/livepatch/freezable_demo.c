// A kernel object of livepatch/freezable-kthread, linked with the bundled vmlinux: one step of
// a kthread's loop does its work, then sleeps 10 ms freezably (set_current_state(
// TASK_INTERRUPTIBLE | TASK_FREEZABLE) around schedule(), as wait_event_freezable does).
#include <linux/kernel.h>
#include <linux/sched.h>

#define HC_JIFFIES 0x221 /* -> jiffies (HZ = 100) */

int freezable_demo_count;

static unsigned long demo_jiffies(void)
{
	register unsigned long x0 __asm__("x0");
	__asm__ volatile("hvc %[nr]" : "=r"(x0) : [nr] "i"(HC_JIFFIES) : "memory");
	return x0;
}

noinline int freezable_demo_work(void)
{
	return READ_ONCE(freezable_demo_count) + 1;
}

long freezable_demo_step(long unused)
{
	const unsigned long end = demo_jiffies() + 1;

	WRITE_ONCE(freezable_demo_count, freezable_demo_work());
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE | TASK_FREEZABLE);
		if ((long)(demo_jiffies() - end) >= 0)
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}
