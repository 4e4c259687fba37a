/* Call chains that sleep at the bottom, so that the reliability checker sees blocked tasks
 * (the livepatch transition's case) with hijacked or deep stacks. schedule() is the machine's
 * guest scheduler (emu/guest/sched.S). */
void schedule(void);

__attribute__((noinline)) long s3(long x) {
    schedule();
    return x + 3;
}
__attribute__((noinline)) long s2(long x) { return s3(x * 2) + 2; }
__attribute__((noinline)) long s1(long x) { return s2(x + 1) + 1; }

/* A prologue worth interrupting: enough callee-saved registers for a multi-step frame. */
__attribute__((noinline)) long mix(long a, long b) {
    long s = 0;
    for (long i = 0; i < a; i++) {
        s += s1(i) ^ b;
    }
    return s;
}
