// The livepatch of livepatch/fork-during-transition: fork_demo_version() answers 2.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

static int fork_demo_version_v2(void)
{
	return 2;
}

static struct klp_func funcs[] = {
	{ .old_name = "fork_demo_version", .new_func = fork_demo_version_v2 },
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

static int klp_fork_demo_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_fork_demo_exit(void)
{
}

module_init(klp_fork_demo_init);
module_exit(klp_fork_demo_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
