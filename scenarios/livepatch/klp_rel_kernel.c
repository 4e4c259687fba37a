// Kernel code a livepatch module cannot link against: static (non-exported) functions and data,
// written for klpemu's .klp.sym/.klp.rela scenarios (klp-relocations*.toml). dup_helper has a
// same-named twin in klp_rel_dup.c, placed after this object: kallsyms order makes this one
// sympos 1 and the twin sympos 2.
#include <linux/kernel.h>

static long secret_count __attribute__((used)) = 41;

static noinline __attribute__((used)) long secret_scale(long x)
{
	return x * 3;
}

static noinline __attribute__((used)) long dup_helper(long x)
{
	return x + 100;
}

// The function klp_rel replaces; its replacement reaches all three statics above.
noinline long rel_show(long x)
{
	return secret_scale(x) + dup_helper(x) + secret_count;
}

void secret_reset(void)
{
	secret_count = 41;
}
