// The kernel side of seed/ppc-toc-not-needed, written for klpemu: many_args takes ten named
// arguments and varargs, so a9, a10, nvar and every vararg are passed on the stack (AAPCS64:
// x0-x7 hold a1-a8). Whatever runs in its place must find them at the SP of the call and return
// to the caller with SP and x19-x29 as the caller left them (ppc_toc_caller.S checks).
#include <linux/kernel.h>

noinline long many_args(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8,
			long a9, long a10, long nvar, ...)
{
	__builtin_va_list ap;
	long sum = a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10;

	__builtin_va_start(ap, nvar);
	for (long i = 0; i < nvar; i++)
		sum += __builtin_va_arg(ap, long);
	__builtin_va_end(ap);
	return sum;
}
