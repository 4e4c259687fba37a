/* Guest C for the real-compiler loader test: leaf functions, calls, a tail call, varargs and
 * more than eight arguments, static and global functions. Every function must get exactly one
 * ftrace patch site from each compiler. */
#include <stdarg.h>

int leaf_add(int a, int b) { return a + b; }

static int __attribute__((noinline)) static_square(int x) { return x * x; }

int calls_static(int x) { return static_square(x) + 1; }

int __attribute__((noinline)) callee(int x) { return leaf_add(x, 3) * 2; }

int tail_caller(int x) { return callee(x + 1); } /* Compiles to `b callee`. */

long sum_varargs(int n, ...) {
    va_list ap;
    long total = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        total += va_arg(ap, long);
    }
    va_end(ap);
    return total;
}

long __attribute__((noinline)) ten_args(long a, long b, long c, long d, long e, long f, long g,
                                        long h, long i, long j) {
    return a + b + c + d + e + f + g + h + i + j;
}

long calls_many(long x) { return ten_args(x, 1, 2, 3, 4, 5, 6, 7, 8, 9) + sum_varargs(2, x, x); }

int global_counter;

void __attribute__((noinline)) bump(void) { global_counter++; }

int uses_static_and_global(int x) {
    bump();
    return static_square(x) + global_counter;
}
