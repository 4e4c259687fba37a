/* A C object for docs/scenario-format.md: compiled with clang-19 (or gcc) with the kernel's
 * ftrace flags, so each function starts with two patchable NOPs. */
long scale(long x, long factor)
{
	return x * factor;
}

long scale_sum(long a, long b)
{
	return scale(a, 10) + scale(b, 1);
}
