// A livepatch module with callbacks, written for klpemu: one object for vmlinux and one for the
// module klp_demo_target, each logging every callback with the object's module state;
// pre_patch returns the `pre_patch_ret` parameter.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

static int pre_patch_ret;
module_param(pre_patch_ret, int, 0644);
MODULE_PARM_DESC(pre_patch_ret, "what pre_patch returns (default 0)");

static const char *state_name(const struct module *mod)
{
	switch (mod->state) {
	case MODULE_STATE_LIVE: return "[MODULE_STATE_LIVE] Normal state";
	case MODULE_STATE_COMING: return "[MODULE_STATE_COMING] Full formed, running module_init";
	case MODULE_STATE_GOING: return "[MODULE_STATE_GOING] Going away";
	default: return "[MODULE_STATE_UNFORMED] Still setting it up";
	}
}

static void report(const char *which, struct klp_object *obj)
{
	if (obj->mod)
		pr_info("%s: %s -> %s\n", which, obj->mod->name, state_name(obj->mod));
	else
		pr_info("%s: vmlinux\n", which);
}

static int demo_pre_patch(struct klp_object *obj)
{
	report("pre_patch_callback", obj);
	return pre_patch_ret;
}

static void demo_post_patch(struct klp_object *obj)
{
	report("post_patch_callback", obj);
}

static void demo_pre_unpatch(struct klp_object *obj)
{
	report("pre_unpatch_callback", obj);
}

static void demo_post_unpatch(struct klp_object *obj)
{
	report("post_unpatch_callback", obj);
}

static struct klp_func nothing[] = { { } };

#define DEMO_CALLBACKS                                                  \
	{ .pre_patch = demo_pre_patch, .post_patch = demo_post_patch,   \
	  .pre_unpatch = demo_pre_unpatch, .post_unpatch = demo_post_unpatch }

static struct klp_object demo_objs[] = {
	{ .name = NULL, .funcs = nothing, .callbacks = DEMO_CALLBACKS },
	{ .name = "klp_demo_target", .funcs = nothing, .callbacks = DEMO_CALLBACKS },
	{ }
};

static struct klp_patch demo_patch = {
	.mod = THIS_MODULE,
	.objs = demo_objs,
};

static int klp_demo_callbacks_init(void)
{
	return klp_enable_patch(&demo_patch);
}

static void klp_demo_callbacks_exit(void)
{
}

module_init(klp_demo_callbacks_init);
module_exit(klp_demo_callbacks_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
