// test_klp_callbacks_mod, written for klpemu after the selftests' module of that name: a target
// module that only says when its init and exit run. test_klp_callbacks_demo has an object for
// it (no functions, only callbacks).
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>

static int test_klp_callbacks_mod_init(void)
{
	pr_info("%s\n", __func__);
	return 0;
}

static void test_klp_callbacks_mod_exit(void)
{
	pr_info("%s\n", __func__);
}

module_init(test_klp_callbacks_mod_init);
module_exit(test_klp_callbacks_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("klpemu: target module for the livepatch callback scenarios");
