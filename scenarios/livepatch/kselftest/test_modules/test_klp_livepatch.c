// test_klp_livepatch, written for klpemu after the selftests' module of that name: patches
// cmdline_proc_show so that `cat /proc/cmdline` reads
// "test_klp_livepatch: this has been live patched". No atomic replace.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: %s\n", THIS_MODULE->name, "this has been live patched");
	return 0;
}

static struct klp_func cmdline_funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = livepatch_cmdline_proc_show },
	{ }
};

static struct klp_object vmlinux_objs[] = {
	{ .funcs = cmdline_funcs }, /* .name NULL: vmlinux */
	{ }
};

static struct klp_patch cmdline_patch = {
	.mod = THIS_MODULE,
	.objs = vmlinux_objs,
};

static int test_klp_livepatch_init(void)
{
	return klp_enable_patch(&cmdline_patch);
}

static void test_klp_livepatch_exit(void)
{
}

module_init(test_klp_livepatch_init);
module_exit(test_klp_livepatch_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("klpemu: livepatch of cmdline_proc_show for the selftest scenarios");
