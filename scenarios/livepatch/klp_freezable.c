// The livepatch of livepatch/freezable-kthread: freezable_demo_work() counts by ten.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

extern int freezable_demo_count;

static int freezable_demo_work_v2(void)
{
	return READ_ONCE(freezable_demo_count) + 10;
}

static struct klp_func funcs[] = {
	{ .old_name = "freezable_demo_work", .new_func = freezable_demo_work_v2 },
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

static int klp_freezable_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_freezable_exit(void)
{
}

module_init(klp_freezable_init);
module_exit(klp_freezable_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
