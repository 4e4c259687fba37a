// The caller of seed/ppc-toc-not-needed, written for klpemu. toc_check calls
// many_args(1, 2, ..., 10, 3, 11, 12, 13) with x19-x28 holding known values and returns 0 if SP,
// x19-x28 and x29 are exactly what they were before the call, else a mask of what changed:
// bit 0 SP, bits 1-10 x19-x28, bit 11 x29. toc_last returns what many_args returned last
// (in any task: after a transition all run the same version), toc_seen every mask so far
// or-ed together (the user task's calls included). On ppc64
// the caller would need its TOC restored after a replacement in another module (seed 003); on
// arm64 nothing is restored, and this checks that nothing needs to be.
        .text
        .globl  toc_check
        .type   toc_check, %function
        .p2align 2
toc_check:
        .cfi_startproc
        stp     x29, x30, [sp, #-112]!
        .cfi_def_cfa_offset 112
        .cfi_offset w30, -104
        .cfi_offset w29, -112
        mov     x29, sp
        .cfi_def_cfa w29, 112
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        stp     x23, x24, [sp, #48]
        stp     x25, x26, [sp, #64]
        stp     x27, x28, [sp, #80]
        mov     x19, #0x1919
        mov     x20, #0x2020
        mov     x21, #0x2121
        mov     x22, #0x2222
        mov     x23, #0x2323
        mov     x24, #0x2424
        mov     x25, #0x2525
        mov     x26, #0x2626
        mov     x27, #0x2727
        mov     x28, #0x2828
        // a9, a10, nvar and three varargs: 48 bytes of stack arguments.
        sub     sp, sp, #48
        mov     x9, #9
        mov     x10, #10
        stp     x9, x10, [sp]
        mov     x9, #3
        mov     x10, #11
        stp     x9, x10, [sp, #16]
        mov     x9, #12
        mov     x10, #13
        stp     x9, x10, [sp, #32]
        mov     x0, #1
        mov     x1, #2
        mov     x2, #3
        mov     x3, #4
        mov     x4, #5
        mov     x5, #6
        mov     x6, #7
        mov     x7, #8
        mov     x9, sp
        str     x9, [x29, #96]          // this call's SP, in this call's own frame
        bl      many_args
        adrp    x10, toc_value
        str     x0, [x10, :lo12:toc_value]
        // bit 0: SP
        ldr     x9, [x29, #96]
        mov     x11, sp
        cmp     x9, x11
        cset    x0, ne
        // bits 1-10: x19-x28
        mov     x9, #0x1919
        cmp     x19, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #1
        mov     x9, #0x2020
        cmp     x20, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #2
        mov     x9, #0x2121
        cmp     x21, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #3
        mov     x9, #0x2222
        cmp     x22, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #4
        mov     x9, #0x2323
        cmp     x23, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #5
        mov     x9, #0x2424
        cmp     x24, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #6
        mov     x9, #0x2525
        cmp     x25, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #7
        mov     x9, #0x2626
        cmp     x26, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #8
        mov     x9, #0x2727
        cmp     x27, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #9
        mov     x9, #0x2828
        cmp     x28, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #10
        // bit 11: x29, the frame record 48 bytes above the call's SP (a wrong x29 loads a wrong
        // SP above, which cannot be 48 below it by chance)
        ldr     x9, [x29, #96]
        add     x9, x9, #48
        cmp     x29, x9
        cset    x12, ne
        orr     x0, x0, x12, lsl #11
        // toc_seen: every mask since boot, or-ed (the user task's calls included)
        adrp    x10, toc_bad
        add     x10, x10, :lo12:toc_bad
1:      ldxr    x11, [x10]
        orr     x11, x11, x0
        stxr    w12, x11, [x10]
        cbnz    w12, 1b
        mov     sp, x29
        ldp     x19, x20, [sp, #16]
        ldp     x21, x22, [sp, #32]
        ldp     x23, x24, [sp, #48]
        ldp     x25, x26, [sp, #64]
        ldp     x27, x28, [sp, #80]
        ldp     x29, x30, [sp], #112
        .cfi_def_cfa sp, 0
        ret
        .cfi_endproc
        .size   toc_check, . - toc_check

        .globl  toc_last
        .type   toc_last, %function
        .p2align 2
toc_last:
        .cfi_startproc
        adrp    x0, toc_value
        ldr     x0, [x0, :lo12:toc_value]
        ret
        .cfi_endproc
        .size   toc_last, . - toc_last

        .globl  toc_seen
        .type   toc_seen, %function
        .p2align 2
toc_seen:
        .cfi_startproc
        adrp    x0, toc_bad
        ldr     x0, [x0, :lo12:toc_bad]
        ret
        .cfi_endproc
        .size   toc_seen, . - toc_seen

        .bss
        .p2align 3
toc_value:
        .zero   8
toc_bad:
        .zero   8
