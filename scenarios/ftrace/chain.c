/* A call chain for the ftrace integration tests: every shape a trampoline must survive (leaf,
 * non-leaf, tail call, varargs, more than eight arguments, an indirect-result struct through
 * x8, recursion). Compiled by clang-19 and aarch64-linux-gnu-gcc with patchable entries. */
#include <stdarg.h>

struct big {
    long a, b, c, d;
};

__attribute__((noinline)) long leaf(long a, long b) { return a * 3 + b; }

__attribute__((noinline)) long nonleaf(long a) { return leaf(a, 1) + leaf(a, 2); }

__attribute__((noinline)) long tail(long a) { return leaf(a + 1, 7); }

__attribute__((noinline)) long sum_va(int n, ...) {
    va_list ap;
    long s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        s += va_arg(ap, long);
    }
    va_end(ap);
    return s;
}

__attribute__((noinline)) long many(long a, long b, long c, long d, long e, long f, long g, long h,
                                    long i, long j, long k) {
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j + 11 * k;
}

__attribute__((noinline)) struct big make_big(long x) {
    struct big r = {x, x + 1, x + 2, x + 3};
    return r;
}

__attribute__((noinline)) long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

__attribute__((noinline)) long g5(long x) { return x + 5; }
__attribute__((noinline)) long g4(long x) { return g5(x * 2) + 4; }
__attribute__((noinline)) long g3(long x) { return g4(x + 1) * 3; }
__attribute__((noinline)) long g2(long x) { return g3(x) - 2; }
__attribute__((noinline)) long g1(long x) { return g2(x + 7) + 1; }

__attribute__((noinline)) long chain_main(long x) {
    struct big b = make_big(x);
    return nonleaf(x) + tail(x) + sum_va(3, x, 2L, 3L) + many(x, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) +
           fib(5) + b.a + b.b * 2 + b.c * 3 + b.d * 4;
}

/* Runs `chain_main` `n` times: a busy loop for the two-CPU tests. */
__attribute__((noinline)) long chain_loop(long x, long n) {
    long s = 0;
    for (long i = 0; i < n; i++) {
        s += chain_main(x + (i & 3));
    }
    return s;
}

/* Calls leaf() `n` times: the per-call overhead benchmark. */
__attribute__((noinline)) long leaf_loop(long n) {
    long s = 0;
    for (long i = 0; i < n; i++) {
        s += leaf(i, 1);
    }
    return s;
}
