/* Kernel functions the far module calls through its PLTs; kernel_twice is traced too. */
long kernel_add(long a, long b) { return a + b; }

long kernel_twice(long x) { return kernel_add(x, x); }
