// test-state.sh's second livepatch, written for klpemu: like test_klp_state.c but its klp_state
// 1 has version 2, and it cooperates with the patch it replaces. When an earlier patch already
// holds state 1 (klp_get_prev_state), this one reuses the earlier data instead of allocating,
// takes the console_loglevel change over instead of making it again, and on the way out hands
// it back instead of restoring and freeing it (when there is still an earlier patch to hand
// it to). test_klp_state3.c is this file again under another module name.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/printk.h>
#include <linux/slab.h>

#define CONSOLE_LOGLEVEL_STATE 1
#define CONSOLE_LOGLEVEL_STATE_VERSION 2

static struct klp_patch patch;

static int allocate_loglevel_state(void)
{
	struct klp_state *state = klp_get_state(&patch, CONSOLE_LOGLEVEL_STATE);
	struct klp_state *prev = klp_get_prev_state(CONSOLE_LOGLEVEL_STATE);

	if (!state)
		return -EINVAL;
	if (prev) {
		pr_info("%s: space to store console_loglevel already allocated\n", __func__);
		return 0;
	}
	state->data = kzalloc(sizeof(console_loglevel), GFP_KERNEL);
	if (!state->data)
		return -ENOMEM;
	pr_info("%s: allocating space to store console_loglevel\n", __func__);
	return 0;
}

static void fix_console_loglevel(void)
{
	struct klp_state *state = klp_get_state(&patch, CONSOLE_LOGLEVEL_STATE);
	struct klp_state *prev = klp_get_prev_state(CONSOLE_LOGLEVEL_STATE);

	if (!state)
		return;
	if (prev) {
		pr_info("%s: taking over the console_loglevel change\n", __func__);
		state->data = prev->data;
		return;
	}
	pr_info("%s: fixing console_loglevel\n", __func__);
	*(int *)state->data = console_loglevel;
	console_loglevel = CONSOLE_LOGLEVEL_MOTORMOUTH;
}

static void restore_console_loglevel(void)
{
	struct klp_state *state = klp_get_state(&patch, CONSOLE_LOGLEVEL_STATE);
	struct klp_state *prev = klp_get_prev_state(CONSOLE_LOGLEVEL_STATE);

	if (!state)
		return;
	if (prev) {
		pr_info("%s: passing the console_loglevel change back to the old livepatch\n",
			__func__);
		return;
	}
	pr_info("%s: restoring console_loglevel\n", __func__);
	console_loglevel = *(int *)state->data;
}

static void free_loglevel_state(void)
{
	struct klp_state *state = klp_get_state(&patch, CONSOLE_LOGLEVEL_STATE);
	struct klp_state *prev = klp_get_prev_state(CONSOLE_LOGLEVEL_STATE);

	if (!state)
		return;
	if (prev) {
		pr_info("%s: keeping space to store console_loglevel\n", __func__);
		return;
	}
	pr_info("%s: freeing space for the stored console_loglevel\n", __func__);
	kfree(state->data);
	state->data = NULL;
}

static int pre_patch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	return allocate_loglevel_state();
}

static void post_patch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	fix_console_loglevel();
}

static void pre_unpatch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	restore_console_loglevel();
}

static void post_unpatch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	free_loglevel_state();
}

static struct klp_func no_funcs[] = { {} };

static struct klp_object objs[] = {
	{
		.name = NULL, /* vmlinux */
		.funcs = no_funcs,
		.callbacks = {
			.pre_patch = pre_patch_callback,
			.post_patch = post_patch_callback,
			.pre_unpatch = pre_unpatch_callback,
			.post_unpatch = post_unpatch_callback,
		},
	},
	{}
};

static struct klp_state states[] = {
	{ .id = CONSOLE_LOGLEVEL_STATE, .version = CONSOLE_LOGLEVEL_STATE_VERSION },
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
	.states = states,
	.replace = true,
};

static int test_klp_state2_init(void)
{
	return klp_enable_patch(&patch);
}

static void test_klp_state2_exit(void)
{
}

module_init(test_klp_state2_init);
module_exit(test_klp_state2_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch test: system state modification, version 2 (klpemu's own)");
