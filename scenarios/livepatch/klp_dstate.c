// The livepatch of livepatch/uninterruptible-sleeper: a new dstate_demo_wait. The old one is
// on the stack of a task that never wakes, so no transition to it completes.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/sched.h>

static void dstate_demo_wait_v2(void)
{
	pr_info("%s: the new dstate_demo_wait runs\n", current->comm);
	set_current_state(TASK_UNINTERRUPTIBLE);
	schedule();
	__set_current_state(TASK_RUNNING);
}

static struct klp_func funcs[] = {
	{ .old_name = "dstate_demo_wait", .new_func = dstate_demo_wait_v2 },
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

static int klp_dstate_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_dstate_exit(void)
{
}

module_init(klp_dstate_init);
module_exit(klp_dstate_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
