/*
 * A module whose core text and init text both hold ftrace call sites. Placed far from the
 * kernel, a call site here cannot BL to ftrace_caller: ftrace_find_callable_addr picks the
 * module's ftrace PLT for the site's memory (.text.ftrace_trampoline for far_work,
 * .init.text.ftrace_trampoline for far_init_helper), and the calls to kernel_add and
 * kernel_twice go through .plt / .init.plt.
 */
extern long kernel_add(long a, long b);
extern long kernel_twice(long x);

long far_work(long x) { return kernel_twice(x) + kernel_add(x, 1); }

__attribute__((section(".init.text"), noinline)) long far_init_helper(long x)
{
	return kernel_add(x, 0);
}

__attribute__((section(".init.text"), used)) static int init(void)
{
	return far_init_helper(7) == 7 ? 0 : 1;
}
