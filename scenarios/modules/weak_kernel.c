// vmlinux for the weak-call scenarios: calls to hooks that no object defines. A static link
// (lld, the AArch64 ELF ABI) turns a CALL26/JUMP26 to an undefined weak symbol into a branch to
// the next instruction, so the call does nothing and a tail call falls through into whatever
// follows it.
extern void hook_fn(long) __attribute__((weak));
extern long hook_tail(long) __attribute__((weak));

long kernel_scale(long x) {
    return 3 * x;
}

long call_hook(long x) {
    if (x > 100)
        hook_fn(x);
    return x + 1;
}

long tail_hook(long x) {
    if (x > 100)
        return hook_tail(x);
    return 2 * x;
}

long after_tail(long x) {
    return x - 1;
}
