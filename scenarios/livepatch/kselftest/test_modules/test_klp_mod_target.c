// test_klp_mod_target, written for klpemu after the 2026 selftests' module of that name: a
// target module whose test_klp_mod_target_show (a module function, not vmlinux) is behind
// /proc/test_klp_mod_target and prints "test_klp_mod_target: original output".
// test_klp_mod_target_proc_show is what klpemu's `cat /proc/test_klp_mod_target` runs: the
// proc entry that proc_create_single() would register, calling the show function.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>

static noinline int test_klp_mod_target_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: %s\n", THIS_MODULE->name, "original output");
	return 0;
}

int test_klp_mod_target_proc_show(struct seq_file *m, void *v)
{
	return test_klp_mod_target_show(m, v);
}

static int test_klp_mod_target_init(void)
{
	pr_info("%s\n", __func__);
	return 0;
}

static void test_klp_mod_target_exit(void)
{
	pr_info("%s\n", __func__);
}

module_init(test_klp_mod_target_init);
module_exit(test_klp_mod_target_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("klpemu: target module for module function patching");
