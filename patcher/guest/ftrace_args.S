// ftrace_args.S: the v6.2+ arm64 ftrace_caller (DYNAMIC_FTRACE_WITH_ARGS), written for klpemu
// from reference §2. A call site `mov x9, x30; bl ftrace_caller` arrives here with x30 =
// rec->ip + 4, x9 = the traced function's return address, x29/SP as at the function's entry.
// SP is lowered before anything is stored, the ftrace_regs are filled, two frame records make
// the traced function and its caller visible to a frame-pointer unwind, and the tracer runs
// through the patchable `ftrace_call` site. The return goes through the saved pc and lr, which
// livepatch (pc) and the graph tracer (lr) may have rewritten.
//
// Frame while the tracer runs (S = entry SP - 144, ascending):
//
//   S+0   x0 x1 x2 x3 x4 x5 x6 x7 x8    ftrace_regs argument registers
//   S+72  (direct_tramp, unused)
//   S+80  fp   = entry x29
//   S+88  lr   = x9 (the caller's return address)
//   S+96  sp   = entry SP
//   S+104 pc   = x30 (rec->ip + 4)
//   S+112 {fp = S+128, lr = rec->ip + 4}     ftrace record; x29 points here
//   S+128 {fp = entry x29, lr = x9}          call-site record
//   S+144 entry SP

    .equ    FREGS_FP, 80
    .equ    FREGS_LR, 88
    .equ    FREGS_SP, 96
    .equ    FREGS_PC, 104
    .equ    FREGS_SIZE, 112
    .equ    FTRACE_FRAME, FREGS_SIZE + 32

    .text
    .globl  ftrace_caller
    .type   ftrace_caller, %function
    .balign 8
ftrace_caller:
    bti     c
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
    adrp    x2, function_trace_op
    ldr     x2, [x2, :lo12:function_trace_op]
    mov     x3, sp
    .globl  ftrace_call
ftrace_call:
    bl      ftrace_stub
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
