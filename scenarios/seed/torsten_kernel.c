// The kernel side of seed/torsten-klp-set-pc-*, written for klpemu: compute() is the function
// a far livepatch module replaces; app_syscall is what the user task `app` runs at every
// syscall (it switches at each return to user).
#include <linux/kernel.h>

long kernel_add(long a, long b);

noinline long compute(long x)
{
	return kernel_add(x, x);
}

long app_syscall(long x)
{
	return compute(x) + 1;
}
