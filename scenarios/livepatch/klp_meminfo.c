// A livepatch module written for klpemu: replaces meminfo_proc_show; `replace=1` makes it an
// atomic-replace (cumulative) patch that reverts every older patch it does not carry.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

static int replace;
module_param(replace, int, 0644);

static int patched_meminfo_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: %s\n", THIS_MODULE->name, "this has been live patched");
	return 0;
}

static struct klp_func meminfo_funcs[] = {
	{ .old_name = "meminfo_proc_show", .new_func = patched_meminfo_show },
	{ }
};

static struct klp_object meminfo_objs[] = {
	{ .funcs = meminfo_funcs },
	{ }
};

static struct klp_patch meminfo_patch = {
	.mod = THIS_MODULE,
	.objs = meminfo_objs,
};

static int klp_meminfo_init(void)
{
	meminfo_patch.replace = replace;
	return klp_enable_patch(&meminfo_patch);
}

static void klp_meminfo_exit(void)
{
}

module_init(klp_meminfo_init);
module_exit(klp_meminfo_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
