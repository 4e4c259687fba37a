// ftrace_regs_v4.S: Torsten Duwe's "arm64: implement ftrace with regs" v4 (2019) as the seed
// thread describes it (seeds/000, Ard's suggestion in seeds/001), written for klpemu. Two frame
// records: first {x29, x9} for the traced function's call from its caller ("preliminary" frame
// for the callee), then {x29, x30} for the call into the trampoline, pushed together with the
// pt_regs area in one pre-indexed store, so nothing is ever written below SP and a
// frame-pointer unwind sees both the traced function and its caller. 2018 pt_regs: S_FRAME_SIZE
// = 320.
//
// Frame while the tracer runs (S = entry SP - 352, ascending):
//
//   S+0    {fp = S+336, lr = x30}          ftrace record; x29 points here
//   S+16   pt_regs: regs[0..28]            x3 = S+16 is the pt_regs pointer
//   S+248  regs[29] = entry x29            S_FP
//   S+256  regs[30] = x9 (lr)              S_LR
//   S+264  sp = entry SP                   S_SP
//   S+272  pc = x30 (rec->ip + 4)          S_PC
//   S+336  {fp = entry x29, lr = x9}       call-site record
//   S+352  entry SP

    .equ    S_FP, 232
    .equ    S_LR, 240
    .equ    S_SP, 248
    .equ    S_PC, 256
    .equ    S_FRAME_SIZE, 320
    .equ    REGS, 16

    .text
    .globl  ftrace_regs_caller
    .type   ftrace_regs_caller, %function
    .balign 8
ftrace_regs_caller:
    stp     x29, x9, [sp, #-16]!
    mov     x29, sp
    stp     x29, x30, [sp, #-(S_FRAME_SIZE + 16)]!
    stp     x0, x1, [sp, #REGS + 0]
    stp     x2, x3, [sp, #REGS + 16]
    stp     x4, x5, [sp, #REGS + 32]
    stp     x6, x7, [sp, #REGS + 48]
    stp     x8, x9, [sp, #REGS + 64]
    stp     x10, x11, [sp, #REGS + 80]
    stp     x12, x13, [sp, #REGS + 96]
    stp     x14, x15, [sp, #REGS + 112]
    stp     x16, x17, [sp, #REGS + 128]
    stp     x18, x19, [sp, #REGS + 144]
    stp     x20, x21, [sp, #REGS + 160]
    stp     x22, x23, [sp, #REGS + 176]
    stp     x24, x25, [sp, #REGS + 192]
    stp     x26, x27, [sp, #REGS + 208]
    str     x28, [sp, #REGS + 224]
    ldr     x10, [x29]
    stp     x10, x9, [sp, #REGS + S_FP]
    add     x10, x29, #16
    stp     x10, x30, [sp, #REGS + S_SP]
    mov     x29, sp
    sub     x0, x30, #4
    mov     x1, x9
    adrp    x2, function_trace_op
    ldr     x2, [x2, :lo12:function_trace_op]
    add     x3, sp, #REGS
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
    ldp     x0, x1, [sp, #REGS + 0]
    ldp     x2, x3, [sp, #REGS + 16]
    ldp     x4, x5, [sp, #REGS + 32]
    ldp     x6, x7, [sp, #REGS + 48]
    ldr     x8, [sp, #REGS + 64]
    ldr     x29, [sp, #REGS + S_FP]
    ldr     x30, [sp, #REGS + S_LR]
    ldr     x9, [sp, #REGS + S_PC]
    add     sp, sp, #S_FRAME_SIZE + 32
    .globl  ftrace_caller_ret
ftrace_caller_ret:
    ret     x9
    .size   ftrace_regs_caller, . - ftrace_regs_caller

.if KLPEMU_GRAPH_CALLER
// prepare_ftrace_return(ip, &the saved lr, the call site's fp): the lr restored on the way out
// is regs[30] (x9 at entry), the call site's fp the entry x29 saved in regs[29].
    .globl  ftrace_graph_caller
    .type   ftrace_graph_caller, %function
ftrace_graph_caller:
    ldr     x0, [sp, #REGS + S_PC]
    sub     x0, x0, #4
    add     x1, sp, #REGS + S_LR
    ldr     x2, [sp, #REGS + S_FP]
    bl      prepare_ftrace_return
    b       ftrace_common_return
    .size   ftrace_graph_caller, . - ftrace_graph_caller
.endif
