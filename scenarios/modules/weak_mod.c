// A module calling hooks that nothing defines. The kernel loads it: simplify_symbols leaves an
// undefined weak symbol at 0, count_plts reserves a PLT slot for each, and the branch to 0 goes
// through a PLT entry whose ADRP aarch64_insn_gen_adr truncated. The calls are guarded by x, so
// the module works until a caller passes x > 100.
extern long kernel_scale(long);
extern void hook_fn(long) __attribute__((weak));
extern long hook_tail(long) __attribute__((weak));

long mod_call_hook(long x) {
    if (x > 100)
        hook_fn(x);
    return kernel_scale(x) + 1;
}

long mod_tail_hook(long x) {
    if (x > 100)
        return hook_tail(x);
    return kernel_scale(x);
}
