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
//
// Direct calls (DYNAMIC_FTRACE_WITH_DIRECT_CALLS, 6.4+, 2aa6ac03516d; assembled with
// KLP_DIRECT_CALLS = 1 on those eras). A direct ops carries ops->direct_call, the address of a
// custom trampoline (a BPF trampoline, a sample's my_tramp) that may sit in a module far beyond
// BL reach. When that ops alone traces the site, the literal points at it and ftrace_caller
// branches to ops->direct_call through x17 before saving anything: one common trampoline
// reaches any target, so no call site needs a PLT per target (Mark Rutland's concern, seed 004).
// When other ops share the site (literal = ftrace_list_ops), their callbacks run first and the
// direct ops' callback leaves the target in S+72 (ftrace_regs.direct_tramp); the late exit then
// restores the call-site state and branches there. Either way the direct trampoline starts
// with x30 = rec->ip + 4 (the traced function's body) and x9 = the function's return address,
// exactly as if the call site's BL had reached it directly, and leaves with `ret` to x30 after
// putting x9 back into x30.

    .ifndef KLP_DIRECT_CALLS
    .equ    KLP_DIRECT_CALLS, 0
    .endif

    .equ    FREGS_FP, 80
    .equ    FREGS_LR, 88
    .equ    FREGS_SP, 96
    .equ    FREGS_PC, 104
    .equ    FREGS_SIZE, 112
    .equ    FTRACE_FRAME, FREGS_SIZE + 32
    .equ    FTRACE_OPS_FUNC, 0
    .equ    FTRACE_OPS_DIRECT_CALL, 16
    .equ    FREGS_DIRECT_TRAMP, 72

    .text
    .globl  ftrace_caller
    .type   ftrace_caller, %function
    .balign 8
ftrace_caller:
    bti     c
    bic     x11, x30, #7
    ldur    x11, [x11, #-16]
    .if KLP_DIRECT_CALLS
    ldr     x17, [x11, #FTRACE_OPS_DIRECT_CALL]
    cbnz    x17, ftrace_caller_direct
    .endif
    mov     x10, sp
    sub     sp, sp, #FTRACE_FRAME
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    str     x8, [sp, #64]
    .if KLP_DIRECT_CALLS
    str     xzr, [sp, #FREGS_DIRECT_TRAMP]
    .endif
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
    .if KLP_DIRECT_CALLS
    ldr     x17, [sp, #FREGS_DIRECT_TRAMP]
    cbnz    x17, ftrace_caller_direct_late
    .endif
    ldr     x30, [sp, #FREGS_LR]
    ldr     x9, [sp, #FREGS_PC]
    add     sp, sp, #FTRACE_FRAME
    .globl  ftrace_caller_ret
ftrace_caller_ret:
    ret     x9
    .if KLP_DIRECT_CALLS
// After the other ops: x0-x8 and x29 are back; the call site's lr and pc go where a direct
// trampoline expects them (x9 = return address, x30 = rec->ip + 4).
ftrace_caller_direct_late:
    ldr     x9, [sp, #FREGS_LR]
    ldr     x30, [sp, #FREGS_PC]
    add     sp, sp, #FTRACE_FRAME
    .globl  ftrace_caller_direct
ftrace_caller_direct:
    br      x17
    .endif
    .size   ftrace_caller, . - ftrace_caller
