/* A module calling three kernel exports from core text and one from init text. */
extern long kernel_add(long a, long b);
extern long kernel_mul(long a, long b);
extern long kernel_sub(long a, long b);

long mod_calc(long x)
{
	return kernel_sub(kernel_mul(x, x), kernel_add(x, 1)) + kernel_add(x, x);
}

long mod_calc_twice(long x) { return mod_calc(x) + mod_calc(x); }

__attribute__((section(".init.text"), used)) static int init(void)
{
	return kernel_add(2, 3) == 5 ? 0 : 1;
}
