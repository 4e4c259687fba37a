// test_klp_mod_patch, written for klpemu after the 2026 selftests' module of that name: a
// livepatch of the module object test_klp_mod_target, replacing test_klp_mod_target_show so
// that /proc/test_klp_mod_target reads "test_klp_mod_patch: this has been live patched".
// Loaded before its target, the object is patched when the target comes (klp_module_coming).
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

static int livepatch_mod_target_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: %s\n", THIS_MODULE->name, "this has been live patched");
	return 0;
}

static struct klp_func target_funcs[] = {
	{ .old_name = "test_klp_mod_target_show", .new_func = livepatch_mod_target_show },
	{ }
};

static struct klp_object target_objs[] = {
	{ .name = "test_klp_mod_target", .funcs = target_funcs },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = target_objs,
};

static int test_klp_mod_patch_init(void)
{
	return klp_enable_patch(&patch);
}

static void test_klp_mod_patch_exit(void)
{
}

module_init(test_klp_mod_patch_init);
module_exit(test_klp_mod_patch_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("klpemu: livepatch of a module function");
