// A livepatch module for a module that is not loaded yet (klp-relocations-late-module.toml),
// written for klpemu: the replacement of target_show calls the target's static target_secret
// and reads its static target_base. Both references become `.klp.rela.klp_rel_target..text`
// relocations, written by klp_init_object_loaded when klp_rel_target comes (klp_module_coming),
// again at every load of the target. kernel_add is exported and linked as usual.
// (klp-relocations-errors.toml builds it with TARGET_SECRET naming a symbol that does not exist.)
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

long kernel_add(long a, long b);
#ifndef TARGET_SECRET
#define TARGET_SECRET ".klp.sym.klp_rel_target.target_secret,0"
#endif
extern long klp_target_secret(long x) __asm__(TARGET_SECRET);
extern long klp_target_base __asm__(".klp.sym.klp_rel_target.target_base,0");

static long target_show_v2(long x)
{
	return kernel_add(klp_target_secret(x) * 100, klp_target_base);
}

static struct klp_func funcs[] = {
	{ .old_name = "target_show", .new_func = target_show_v2 },
	{ }
};

static struct klp_object objs[] = {
	{ .name = "klp_rel_target", .funcs = funcs },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int klp_rel_mod_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_rel_mod_exit(void)
{
}

module_init(klp_rel_mod_init);
module_exit(klp_rel_mod_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
