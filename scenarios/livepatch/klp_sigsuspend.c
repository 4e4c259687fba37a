// The livepatch of livepatch/fake-signal: a new rt_sigsuspend that says it runs, then sleeps
// until a signal as the original does.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/sched.h>

struct pt_regs;

static long sigsuspend_v2(const struct pt_regs *regs)
{
	pr_info("%s: the new rt_sigsuspend runs\n", current->comm);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (signal_pending(current))
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return -514; /* -ERESTARTNOHAND */
}

static struct klp_func funcs[] = {
	{ .old_name = "__arm64_sys_rt_sigsuspend", .new_func = sigsuspend_v2 },
	{ }
};

static struct klp_object objs[] = {
	{ .funcs = funcs },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int klp_sigsuspend_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_sigsuspend_exit(void)
{
}

module_init(klp_sigsuspend_init);
module_exit(klp_sigsuspend_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
