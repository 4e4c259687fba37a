// klp_support.S: the guest hne),
// x1..x3 its arguments, x4 the operation's result.

        .equ HC_KLP_START, 0x110
        .equ HC_KLP_RESUME, 0x111

        .text
        .globl  klp_api
        .type   klp_api, %function
        .p2align 3
klp_api:
        .cfi_startproc
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        .cfi_offset x29, -16
        .cfi_offset x30, -8
        mov     x29, sp
        hvc     #HC_KLP_START
1:      cbz     x0, 2f
        mov     x16, x0
        mov     x0, x1
        mov     x1, x2
        mov     x2, x3
        blr     x16
        hvc     #HC_KLP_RESUME
        b       1b
2:      mov     x0, x4
        ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_same_value x29
        .cfi_same_value x30
        ret
        .cfi_endproc
        .size   klp_api, . - klp_api

// One stub per API function: op number in x9, then klp_api (a tail call: the stub leaves no
// frame, so a trace from a callback shows the module's caller of the API function).
        .macro  KLP_STUB name, op
        .globl  \name
        .type   \name, %function
        .p2align 2
\name:
        mov     x9, #\op
        b       klp_api
        .size   \name, . - \name
        .endm

        KLP_STUB klp_enable_patch, 1
        KLP_STUB klp_host_op, 2
        KLP_STUB _printk, 3
        KLP_STUB seq_printf, 4
        KLP_STUB seq_puts, 5
  .space  0x100p0
klp_heap_end:
