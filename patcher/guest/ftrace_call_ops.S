// ftrace_call_ops.S: the v6.3+ arm64 ftrace_caller with DYNAMIC_FTRACE_WITH_CALL_OPS, written
// for klpemu from reference §1 and §2. It is the WITH_ARGS trampoline, except that the ops
// comes from the 8-byte literal the compiler left before the traced function
// (-fpatchable-function-entry=4,2): x30 is rec->ip + 4, so clearing its low three bits and
// stepping back 16 bytes lands on the literal whether or not a `bti c` precedes the NOPs. The
// tracer is then called indirectly through ops->func instead of the patchable `ftrace_call`.
//
//   A+0  literal: &ftrace_ops (8-aligned, never executed)
//   A+8  func: [bti c] mov x9, x30 ; bl ftrace_caller      (x30 = A+16 or A+20)
//
// Frame while the tracer runs (S = entry SP - 144, ascending):
//
//   S+0   x0 .. x8                         ftrace_regs argument registers
//   S+80  fp = entry x29,  S+88  lr = x9
//   S+96  sp = entry SP,   S+104 pc = x30
//   S+112 {fp = S+128, lr = rec->ip + 4}     ftrace record; x29 points here
//   S+128 {fp = entry x29, lr = x9}          call-site record
//   S+144 entry SP

    .equ    FREGS_FP, 80
    .equ    FREGS_LR, 88
    .equ    FREGS_SP, 96
    .equ    FREGS_PC, 104
    .equ    FREGS_SIZE, 112
    .equ    FTRACE_FRAME, FREGS_SIZE + 32
    .equ    FTRACE_OPS_FUNC, 0

    .text
    .globl  ftrace_caller
    .type   ftrace_caller, %function
    .balign 8
ftrace_caller:
    bti     c
    bic     x11, x30, #7
    ldur    x11, [x11, #-16]
    mov     x10, sp
    sub     sp, sp, #FTRACE_FRAME
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    str     x8, [sp, #64]
    stp     x29, x9, [sp, #FREGS_FP]
    stp     x10, x30, [sp, #FREGS_SP]
    stp     x29, x9, [sp, #FREGS_SIZE + 16]
    add     x29, sp, #FREGS_SIZE + 16
    stp     x29, x30, [sp, #FREGS_SIZE]
    add     x29, sp, #FREGS_SIZE
    sub     x0, x30, #4
    mov     x1, x9
    mov     x2, x11
    mov     x3, sp
    ldr     x4, [x2, #FTRACE_OPS_FUNC]
    blr     x4
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldr     x8, [sp, #64]
    ldr     x29, [sp, #FREGS_FP]
    ldr     x30, [sp, #FREGS_LR]
    ldr     x9, [sp, #FREGS_PC]
    add     sp, sp, #FTRACE_FRAME
    .globl  ftrace_caller_ret
ftrace_caller_ret:
    ret     x9
    .size   ftrace_caller, . - ftrace_caller
