// The livepatch of seed/unwinder-policy-matters-*, written for klpemu: outer() returns one
// more than before.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

long leaf_helper(long x);

static long outer_v2(long x)
{
	long r = leaf_helper(x);
	return r + 2;
}

static struct klp_func outer_funcs[] = {
	{ .old_name = "outer", .new_func = outer_v2 },
	{ }
};

static struct klp_object outer_objs[] = {
	{ .funcs = outer_funcs },
	{ }
};

static struct klp_patch outer_patch = {
	.mod = THIS_MODULE,
	.objs = outer_objs,
};

static int klp_outer_init(void)
{
	return klp_enable_patch(&outer_patch);
}

static void klp_outer_exit(void)
{
}

module_init(klp_outer_init);
module_exit(klp_outer_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
