// A direct trampoline in BL reach of the kernel (a near module): kernel call sites branch to
// it straight from their BL; the far module's call sites cannot, and go through ftrace_caller.
        .text
        .globl  near_tramp, near_hits_read
        .type   near_tramp, %function
        .balign 4
near_tramp:
        bti     c
        adrp    x10, near_hits
        ldr     x11, [x10, :lo12:near_hits]
        add     x11, x11, #1
        str     x11, [x10, :lo12:near_hits]
        mov     x10, x30
        mov     x30, x9
        ret     x10
        .size   near_tramp, . - near_tramp

        .type   near_hits_read, %function
near_hits_read:
        adrp    x0, near_hits
        ldr     x0, [x0, :lo12:near_hits]
        ret
        .size   near_hits_read, . - near_hits_read

        .data
        .balign 8
near_hits:
        .quad   0
