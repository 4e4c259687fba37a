/* Kernel side of the module integration tests: exports a module calls. */
long kernel_add(long a, long b) { return a + b; }
long kernel_mul(long a, long b) { return a * b; }
long kernel_sub(long a, long b) { return a - b; }
