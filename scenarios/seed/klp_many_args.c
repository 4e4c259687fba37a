// The livepatch module of seed/ppc-toc-not-needed, written for klpemu: a replacement for
// many_args with the same ten named arguments and varargs. It weighs every argument by its
// position (so an argument read from the wrong stack slot changes the result) and keeps values
// live across calls to kernel_add, so its own prologue saves and restores callee-saved
// registers. Nothing here restores anything for the trampoline: on arm64 the trampoline's
// `ret x9` enters it with SP and x30 exactly as at the call, and it returns straight to the
// caller (no TOC, no shadow stack: seed 003's problem does not exist here).
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

long kernel_add(long a, long b);

static long many_args_v2(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8,
			 long a9, long a10, long nvar, ...)
{
	__builtin_va_list ap;
	long sum = 1000;

	sum = kernel_add(sum, 1 * a1 + 2 * a2 + 3 * a3 + 4 * a4 + 5 * a5);
	sum = kernel_add(sum, 6 * a6 + 7 * a7 + 8 * a8 + 9 * a9 + 10 * a10);
	__builtin_va_start(ap, nvar);
	for (long i = 0; i < nvar; i++)
		sum = kernel_add(sum, (11 + i) * __builtin_va_arg(ap, long));
	__builtin_va_end(ap);
	return sum;
}

static struct klp_func funcs[] = {
	{ .old_name = "many_args", .new_func = many_args_v2 },
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

static int klp_many_args_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_many_args_exit(void)
{
}

module_init(klp_many_args_init);
module_exit(klp_many_args_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
