/* Shared by klpemu's test_klp_callbacks_demo and test_klp_callbacks_demo2: each callback logs
 * its name and the object it runs for (vmlinux, or the module and the module's state, as the
 * selftests' modules print it). */
#ifndef KLPEMU_KSELFTEST_CALLBACKS_COMMON_H
#define KLPEMU_KSELFTEST_CALLBACKS_COMMON_H

#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>

static const char *callback_module_state(const struct module *mod)
{
	switch (mod->state) {
	case MODULE_STATE_LIVE:
		return "[MODULE_STATE_LIVE] Normal state";
	case MODULE_STATE_COMING:
		return "[MODULE_STATE_COMING] Full formed, running module_init";
	case MODULE_STATE_GOING:
		return "[MODULE_STATE_GOING] Going away";
	default:
		return "[MODULE_STATE_UNFORMED] Still setting it up";
	}
}

static void callback_log(const char *callback, struct klp_object *obj)
{
	if (obj->mod)
		pr_info("%s: %s -> %s\n", callback, obj->mod->name, callback_module_state(obj->mod));
	else
		pr_info("%s: vmlinux\n", callback);
}

static void post_patch_callback(struct klp_object *obj)
{
	callback_log(__func__, obj);
}

static void pre_unpatch_callback(struct klp_object *obj)
{
	callback_log(__func__, obj);
}

static void post_unpatch_callback(struct klp_object *obj)
{
	callback_log(__func__, obj);
}

#endif
