// test_klp_callbacks_demo, written for klpemu after the selftests' module of that name: a
// livepatch with three objects, each with all four callbacks: vmlinux and
// test_klp_callbacks_mod (no functions), and test_klp_callbacks_busy, whose busymod_work_func
// it replaces. pre_patch_callback returns the `pre_patch_ret` parameter (writable at run time
// through /sys/module/test_klp_callbacks_demo/parameters/pre_patch_ret).
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/workqueue.h>

#include "callbacks_common.h"

static int pre_patch_ret;
module_param(pre_patch_ret, int, 0644);
MODULE_PARM_DESC(pre_patch_ret, "pre_patch_callback return value (default 0)");

static int pre_patch_callback(struct klp_object *obj)
{
	callback_log(__func__, obj);
	return pre_patch_ret;
}

static void patched_work_func(struct work_struct *work)
{
	pr_info("%s\n", __func__);
}

static struct klp_func no_funcs[] = {
	{ }
};

static struct klp_func busymod_funcs[] = {
	{ .old_name = "busymod_work_func", .new_func = patched_work_func },
	{ }
};

#define ALL_CALLBACKS                                                                 \
	{ .pre_patch = pre_patch_callback, .post_patch = post_patch_callback,         \
	  .pre_unpatch = pre_unpatch_callback, .post_unpatch = post_unpatch_callback }

static struct klp_object objs[] = {
	{ .name = NULL, .funcs = no_funcs, .callbacks = ALL_CALLBACKS },
	{ .name = "test_klp_callbacks_mod", .funcs = no_funcs, .callbacks = ALL_CALLBACKS },
	{ .name = "test_klp_callbacks_busy", .funcs = busymod_funcs, .callbacks = ALL_CALLBACKS },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int test_klp_callbacks_demo_init(void)
{
	return klp_enable_patch(&patch);
}

static void test_klp_callbacks_demo_exit(void)
{
}

module_init(test_klp_callbacks_demo_init);
module_exit(test_klp_callbacks_demo_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("klpemu: livepatch callbacks for vmlinux and two target modules");
