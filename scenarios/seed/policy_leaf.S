// leaf_helper: a leaf without a frame record (the return address stays in x30), with the CFI
// that says so; a short loop so that an interrupt lands inside it.
        .text
        .globl  leaf_helper
        .type   leaf_helper, %function
        .p2align 2
leaf_helper:
        .cfi_startproc
        mov     x1, #4
1:      add     x0, x0, #1
        subs    x1, x1, #1
        b.ne    1b
        ret
        .cfi_endproc
        .size   leaf_helper, . - leaf_helper
