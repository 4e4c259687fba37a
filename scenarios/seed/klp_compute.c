// The far livepatch module of seed/torsten-klp-set-pc-*, written for klpemu: compute_v2 calls
// back into the kernel (kernel_add, _printk) through the module's PLTs.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

long kernel_add(long a, long b);

static long calls;

static long compute_v2(long x)
{
	if (calls++ == 0)
		pr_info("compute_v2 runs for the first time, x=%ld\n", x);
	return kernel_add(kernel_add(x, x), x);
}

static struct klp_func compute_funcs[] = {
	{ .old_name = "compute", .new_func = compute_v2 },
	{ }
};

static struct klp_object compute_objs[] = {
	{ .funcs = compute_funcs },
	{ }
};

static struct klp_patch compute_patch = {
	.mod = THIS_MODULE,
	.objs = compute_objs,
};

static int klp_compute_init(void)
{
	return klp_enable_patch(&compute_patch);
}

static void klp_compute_exit(void)
{
}

module_init(klp_compute_init);
module_exit(klp_compute_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
