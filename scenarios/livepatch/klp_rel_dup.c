// The second `dup_helper` of the mini kernel (see klp_rel_kernel.c): a static function whose
// name is not unique in vmlinux, so livepatch needs its sympos (2) to reach or patch it.
#include <linux/kernel.h>

static noinline __attribute__((used)) long dup_helper(long x)
{
	return x + 200;
}

noinline long dup_user(long x)
{
	return dup_helper(x);
}
