/*
 * Kernel side of seed 004 as Mark Rutland asked it: three kernel functions that a patch module
 * far away (> 2 GiB) wants to intercept, each with a trampoline of its own, and k_sum, which
 * calls them. Built for CALL_OPS (-fpatchable-function-entry=4,2): each function has the ops
 * literal ftrace_caller reads ops->direct_call from.
 */
__attribute__((noinline)) long k_add1(long x) {
    return x + 1;
}
__attribute__((noinline)) long k_add2(long x) {
    return x + 2;
}
__attribute__((noinline)) long k_add3(long x) {
    return x + 3;
}

long k_sum(long x) {
    return k_add1(x) + k_add2(x) + k_add3(x);
}
