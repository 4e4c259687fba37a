/* A CPU that never synchronises (no ISB, no exception) while ftrace enables and disables the
 * function it keeps calling. */
__attribute__((noinline)) long leaf(long a) {
    return a + 1;
}

long spin(long n) {
    long s = 0;
    for (long i = 0; i < n; i++) {
        s += leaf(i);
    }
    return s;
}
