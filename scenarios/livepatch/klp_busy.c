// A livepatch module written for klpemu: replaces busy_work_func (busy.c) with a version that
// returns at once, logging that it ran.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

static long new_busy_work_func(long rounds)
{
	pr_info("%s\n", __func__);
	return rounds;
}

static struct klp_func busy_funcs[] = {
	{ .old_name = "busy_work_func", .new_func = new_busy_work_func },
	{ }
};

static struct klp_object busy_objs[] = {
	{ .funcs = busy_funcs },
	{ }
};

static struct klp_patch busy_patch = {
	.mod = THIS_MODULE,
	.objs = busy_objs,
};

static int klp_busy_init(void)
{
	return klp_enable_patch(&busy_patch);
}

static void klp_busy_exit(void)
{
}

module_init(klp_busy_init);
module_exit(klp_busy_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
