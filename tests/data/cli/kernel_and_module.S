// Two functions with ftrace patch sites laid out as -fpatchable-function-entry=2 does.
    .text
    .globl traced
    .type traced, %function
traced:
    nop
    nop
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    bl helper
    ldp x29, x30, [sp], #16
    ret
    .size traced, .-traced
    .globl helper
    .type helper, %function
helper:
    nop
    nop
    add x0, x0, #1
    ret
    .size helper, .-helper
    .section __patchable_function_entries,"awo",@progbits,traced
    .p2align 3
    .quad traced
    .section __patchable_function_entries,"awo",@progbits,helper
    .p2align 3
    .quad helper
