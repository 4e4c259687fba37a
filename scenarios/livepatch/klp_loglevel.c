// A livepatch module for klpemu's bundled kernel (livepatch/bundled-kernel): replaces
// cmdline_proc_show with one that also reports console_loglevel, a variable of the bundled
// vmlinux the module links against like any kernel symbol.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/printk.h>
#include <linux/seq_file.h>

static int loglevel_cmdline_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: console_loglevel is %d\n", THIS_MODULE->name, console_loglevel);
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = loglevel_cmdline_show },
	{ }
};

static struct klp_object objs[] = {
	{ .funcs = funcs },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int klp_loglevel_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_loglevel_exit(void)
{
}

module_init(klp_loglevel_init);
module_exit(klp_loglevel_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
