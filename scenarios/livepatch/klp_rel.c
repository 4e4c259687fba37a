// A livepatch module as kpatch-build / klp-build would leave it, written for klpemu: the
// replacement of rel_show calls and writes kernel statics no module may link against. Each is
// named `.klp.sym.vmlinux.<name>,<sympos>` through an asm label; klpemu's klp-convert step
// (patcher/livepatch/klp_convert.h) turns the references into `.klp.rela.vmlinux..text`
// relocations against SHN_LIVEPATCH symbols, which the kernel resolves while the module loads.
// It also patches the second of two static `dup_helper`s by old_sympos = 2.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

extern long klp_secret_scale(long x) __asm__(".klp.sym.vmlinux.secret_scale,0");
extern long klp_secret_count __asm__(".klp.sym.vmlinux.secret_count,0");
extern long klp_dup_helper_1(long x) __asm__(".klp.sym.vmlinux.dup_helper,1");

static long rel_show_v2(long x)
{
	klp_secret_count++;
	return klp_secret_scale(x) * 1000 + klp_dup_helper_1(x) + klp_secret_count;
}

static long dup_helper_v2(long x)
{
	return x + 2000;
}

static struct klp_func funcs[] = {
	{ .old_name = "rel_show", .new_func = rel_show_v2 },
	{ .old_name = "dup_helper", .old_sympos = 2, .new_func = dup_helper_v2 },
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

static int klp_rel_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_rel_exit(void)
{
}

module_init(klp_rel_init);
module_exit(klp_rel_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
