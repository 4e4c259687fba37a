// A module a livepatch targets before it is loaded (klp-relocations-late-module.toml), written
// for klpemu: target_show is patched; target_secret is static, so the replacement reaches it
// only through `.klp.sym.klp_rel_target.target_secret,0`.
#include <linux/module.h>
#include <linux/kernel.h>

static long target_base __attribute__((used)) = 7;

static noinline __attribute__((used)) long target_secret(long x)
{
	return x * target_base;
}

noinline long target_show(long x)
{
	return target_secret(x) + 1;
}

static int target_init(void)
{
	return 0;
}

static void target_exit(void)
{
}

module_init(target_init);
module_exit(target_exit);
MODULE_LICENSE("GPL");
