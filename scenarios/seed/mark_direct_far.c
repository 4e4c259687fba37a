/*
 * The far patch module of seed 004: direct trampolines (the shape of the kernel's
 * samples/ftrace/ftrace-direct*.c: entered with x30 = the traced function's body and x9 = its
 * return address, leaving by swapping them back) that count their hits. far_tramp_a adds 1,
 * far_tramp_b adds 100, clobber_tramp adds 1000 and also overwrites the first argument, which
 * the direct-call check reports as abi-clobber. far_fn is a module function traced by a direct
 * trampoline in the kernel's reach but not the module's: its site reaches ftrace_caller through
 * the module's ftrace PLT.
 */
long far_hits;

long far_hits_read(void) {
    return far_hits;
}

__attribute__((noinline)) long far_fn(long x) {
    return x * 2;
}

#define DIRECT_TRAMP(name, inc, extra)                                                             \
    __asm__("	.text\n"                                                                             \
            "	.globl " #name "\n"                                                                \
            "	.type " #name ", %function\n"                                                      \
            "	.balign 4\n" #name ":\n"                                                           \
            "	bti	c\n"                                                                             \
            "	adrp	x10, far_hits\n"                                                                \
            "	ldr	x11, [x10, :lo12:far_hits]\n"                                                    \
            "	add	x11, x11, #" #inc "\n"                                                     \
            "	str	x11, [x10, :lo12:far_hits]\n" extra "	mov	x10, x30\n"                      \
            "	mov	x30, x9\n"                                                                       \
            "	ret	x10\n"                                                                           \
            "	.size " #name ", . - " #name "\n")

DIRECT_TRAMP(far_tramp_a, 1, "");
DIRECT_TRAMP(far_tramp_b, 100, "");
DIRECT_TRAMP(clobber_tramp, 1000, "	mov	x0, #0\n");
