// A livepatch module without MODULE_INFO(livepatch, "Y") (livepatch/not-a-livepatch-module):
// the module loader does not mark it (mod->klp stays false), so klp_enable_patch refuses it
// with "module %s is not marked as a livepatch module" and -EINVAL, and insmod fails.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

static int unmarked_cmdline_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: never runs\n", THIS_MODULE->name);
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = unmarked_cmdline_show },
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

static int klp_unmarked_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_unmarked_exit(void)
{
}

module_init(klp_unmarked_init);
module_exit(klp_unmarked_exit);
MODULE_LICENSE("GPL");
