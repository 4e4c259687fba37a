// ftrace_regs_v3.S: Torsten Duwe's "arm64: implement ftrace with regs" v3 (Oct 2018) as Ard
// Biesheuvel reviewed it (seeds/001_6cb2de6d2697a74d.txt), kept in klpemu because its two
// defects are what the reliability checks must catch. The review quotes the opening:
//
//     sub  sp, sp, #S_FRAME_SIZE
//     stp  x29, x9, [sp, #-16]        /* FP/LR link */
//
// which writes below the stack pointer (an exception taken here on the same stack would
// overwrite it: "You cannot write below the stack pointer"). The rest is our reconstruction,
// consistent with the review: the frame pointer is pointed at the pt_regs pair {x29, x30}, so
// the only record linking the trampoline back is {caller's fp, rec->ip + 4}: the traced
// function's caller lives in x9 alone and is invisible to a frame-pointer unwind ("the link
// register lives in x9 so there is no way the normal backtrace logic can see where the
// ftraced_function() has been called from"). 2018 pt_regs: S_FRAME_SIZE = 320.
//
// Frame while the tracer runs (S = entry SP - 320, ascending):
//
//   S-16   {entry x29, x9}                 written below SP (defect 1)
//   S+0    regs[0..28]                     regs[9] = x9 is the lr slot
//   S+232  {regs[29] = entry x29, regs[30] = x30}   x29 points here (defect 2)
//   S+248  sp = entry SP
//   S+256  pc = x30 (rec->ip + 4)
//   S+320  entry SP

    .equ    S_X9, 72
    .equ    S_FP, 232
    .equ    S_SP, 248
    .equ    S_PC, 256
    .equ    S_FRAME_SIZE, 320

    .text
    .globl  ftrace_regs_caller
    .type   ftrace_regs_caller, %function
    .balign 8
ftrace_regs_caller:
    sub     sp, sp, #S_FRAME_SIZE
    stp     x29, x9, [sp, #-16]
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    str     x28, [sp, #224]
    stp     x29, x30, [sp, #S_FP]
    add     x10, sp, #S_FRAME_SIZE
    stp     x10, x30, [sp, #S_SP]
    add     x29, sp, #S_FP
    sub     x0, x30, #4
    mov     x1, x9
    adrp    x2, function_trace_op
    ldr     x2, [x2, :lo12:function_trace_op]
    mov     x3, sp
    .globl  ftrace_call
ftrace_call:
    bl      ftrace_stub
.if KLPEMU_GRAPH_CALLER
// The series kept mainline's graph caller: ftrace_enable_ftrace_graph_caller patches this NOP
// into `b ftrace_graph_caller`.
    .globl  ftrace_graph_call
ftrace_graph_call:
    nop
.endif
ftrace_common_return:
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldr     x8, [sp, #64]
    ldr     x29, [sp, #S_FP]
    ldr     x30, [sp, #S_X9]
    ldr     x9, [sp, #S_PC]
    add     sp, sp, #S_FRAME_SIZE
    .globl  ftrace_caller_ret
ftrace_caller_ret:
    ret     x9
    .size   ftrace_regs_caller, . - ftrace_regs_caller

.if KLPEMU_GRAPH_CALLER
// prepare_ftrace_return(ip, &the saved lr, the call site's fp): v3 restores lr from regs[9]
// (x9 at entry) and keeps the entry x29 in regs[29].
    .globl  ftrace_graph_caller
    .type   ftrace_graph_caller, %function
ftrace_graph_caller:
    ldr     x0, [sp, #S_PC]
    sub     x0, x0, #4
    add     x1, sp, #S_X9
    ldr     x2, [sp, #S_FP]
    bl      prepare_ftrace_return
    b       ftrace_common_return
    .size   ftrace_graph_caller, . - ftrace_graph_caller
.endif
