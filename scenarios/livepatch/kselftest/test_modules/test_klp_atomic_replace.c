// test_klp_atomic_replace, written for klpemu after the selftests' module of that name: patches
// meminfo_proc_show so that `cat /proc/meminfo` reads
// "test_klp_atomic_replace: this has been live patched". The `replace` parameter sets
// klp_patch.replace: with replace=1 the patch is cumulative and reverts every older patch.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

static int replace;
module_param(replace, int, 0644);
MODULE_PARM_DESC(replace, "replace (cumulative) patch: 1, stacked patch: 0 (default)");

static int livepatch_meminfo_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: %s\n", THIS_MODULE->name, "this has been live patched");
	return 0;
}

static struct klp_func meminfo_funcs[] = {
	{ .old_name = "meminfo_proc_show", .new_func = livepatch_meminfo_proc_show },
	{ }
};

static struct klp_object vmlinux_objs[] = {
	{ .funcs = meminfo_funcs },
	{ }
};

static struct klp_patch meminfo_patch = {
	.mod = THIS_MODULE,
	.objs = vmlinux_objs,
};

static int test_klp_atomic_replace_init(void)
{
	meminfo_patch.replace = replace;
	return klp_enable_patch(&meminfo_patch);
}

static void test_klp_atomic_replace_exit(void)
{
}

module_init(test_klp_atomic_replace_init);
module_exit(test_klp_atomic_replace_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("klpemu: (atomic replace) livepatch of meminfo_proc_show");
