// A kernel object of livepatch/fork-during-transition, linked with klpemu's bundled vmlinux
// (kernel_thread, printk). fork_demo_parent spins on its CPU until the scenario releases it,
// so the transition finds it running and cannot switch it; then it asks fork_demo_version()
// which version it runs and forks a kthread that asks the same. A child inherits its parent's
// patch state (klp_copy_process), so both must answer alike while the parent is unswitched.
#include <linux/kernel.h>
#include <linux/sched.h>

int fork_demo_released;
int fork_demo_base = 1;

/* Reads a variable, so that the compiler cannot fold the answer into the callers. */
noinline int fork_demo_version(void)
{
	return READ_ONCE(fork_demo_base);
}

noinline long fork_demo_release(long unused)
{
	WRITE_ONCE(fork_demo_released, 1);
	return 0;
}

static int fork_demo_child(void *arg)
{
	pr_info("fork_demo: child runs version %d\n", fork_demo_version());
	return 0;
}

long fork_demo_parent(long unused)
{
	while (!READ_ONCE(fork_demo_released))
		;
	pr_info("fork_demo: parent runs version %d\n", fork_demo_version());
	kernel_thread(fork_demo_child, NULL, "fork_child", 0);
	return 0;
}
