// Livepatch modules whose non-exported symbols cannot be resolved (klp-relocations-errors.toml),
// written for klpemu. One source, several modules: the scenario sets KLP_SYM (the
// `.klp.sym.<objname>.<symname>,<sympos>` the replacement calls), OLD_NAME and OLD_SYMPOS.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

#ifndef OLD_NAME
#define OLD_NAME "rel_show"
#endif
#ifndef OLD_SYMPOS
#define OLD_SYMPOS 0
#endif

extern long klp_helper(long x) __asm__(KLP_SYM);

static long replacement(long x)
{
	return klp_helper(x) + 1;
}

static struct klp_func funcs[] = {
	{ .old_name = OLD_NAME, .old_sympos = OLD_SYMPOS, .new_func = replacement },
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

static int klp_rel_bad_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_rel_bad_exit(void)
{
}

module_init(klp_rel_bad_init);
module_exit(klp_rel_bad_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
