// test_klp_callbacks_demo2, written for klpemu after the selftests' module of that name: a
// second livepatch with only a vmlinux object (no functions) and the four callbacks;
// `replace=1` makes it an atomic-replace patch of test_klp_callbacks_demo.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

#include "callbacks_common.h"

static int replace;
module_param(replace, int, 0644);
MODULE_PARM_DESC(replace, "replace (cumulative) patch: 1, stacked patch: 0 (default)");

static int pre_patch_callback(struct klp_object *obj)
{
	callback_log(__func__, obj);
	return 0;
}

static struct klp_func no_funcs[] = {
	{ }
};

static struct klp_object objs[] = {
	{
		.name = NULL,
		.funcs = no_funcs,
		.callbacks = { .pre_patch = pre_patch_callback,
			       .post_patch = post_patch_callback,
			       .pre_unpatch = pre_unpatch_callback,
			       .post_unpatch = post_unpatch_callback },
	},
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int test_klp_callbacks_demo2_init(void)
{
	patch.replace = replace;
	return klp_enable_patch(&patch);
}

static void test_klp_callbacks_demo2_exit(void)
{
}

module_init(test_klp_callbacks_demo2_init);
module_exit(test_klp_callbacks_demo2_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("klpemu: a second callbacks livepatch, optionally atomic replace");
