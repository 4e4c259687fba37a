// A plain module for the callback scenarios, written for klpemu: logs its init and exit.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>

static int klp_demo_target_init(void)
{
	pr_info("%s\n", __func__);
	return 0;
}

static void klp_demo_target_exit(void)
{
	pr_info("%s\n", __func__);
}

module_init(klp_demo_target_init);
module_exit(klp_demo_target_exit);
MODULE_LICENSE("GPL");
