// A livepatch module written for klpemu against its kernel-API headers: replaces
// cmdline_proc_show so that `cat /proc/cmdline` says who patched it.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

static int patched_cmdline_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: %s\n", THIS_MODULE->name, "this has been live patched");
	return 0;
}

static struct klp_func cmdline_funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = patched_cmdline_show },
	{ }
};

static struct klp_object cmdline_objs[] = {
	{ .name = NULL /* vmlinux */, .funcs = cmdline_funcs },
	{ }
};

static struct klp_patch cmdline_patch = {
	.mod = THIS_MODULE,
	.objs = cmdline_objs,
};

static int klp_cmdline_init(void)
{
	return klp_enable_patch(&cmdline_patch);
}

static void klp_cmdline_exit(void)
{
}

module_init(klp_cmdline_init);
module_exit(klp_cmdline_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("klpemu: patch /proc/cmdline");
