// ftrace_regs.S: the v5.5..v6.1 arm64 ftrace_regs_caller (DYNAMIC_FTRACE_WITH_REGS, Mark
// Rutland's rework merged as 3b23e4991fb6), written for klpemu from reference §3. SP drops by
// PT_REGS_SIZE + 16 before any store; a full pt_regs is saved (x0..x29, lr = x9, sp, pc = x30);
// the call-site record {x29, x9} sits above pt_regs and the ftrace record {&call-site, x30}
// inside it at S_STACKFRAME, so a frame-pointer unwind sees the traced function and its caller.
// pstate and the other tail fields are never filled, as in the kernel.
//
// Frame while the tracer runs (S = entry SP - 352; v6.1 pt_regs offsets, ascending):
//
//   S+0    regs[0..28]
//   S+232  regs[29] = entry x29            S_FP
//   S+240  regs[30] = x9 (lr)              S_LR
//   S+248  sp = entry SP                   S_SP
//   S+256  pc = x30 (rec->ip + 4)          S_PC
//   S+304  {fp = S+336, lr = x30}          S_STACKFRAME: ftrace record; x29 points here
//   S+336  {fp = entry x29, lr = x9}       call-site record
//   S+352  entry SP

    .equ    S_FP, 232
    .equ    S_LR, 240
    .equ    S_SP, 248
    .equ    S_PC, 256
    .equ    S_STACKFRAME, 304
    .equ    PT_REGS_SIZE, 336

// The kernel's own macro of that era (entry-ftrace.S, v5.5..v6.1): ftrace_caller used it with
// allregs=0, ftrace_regs_caller with allregs=1. Make room for pt_regs plus a callee frame, save
// the arguments (and x9), the callee-saved registers or only the FP, the call site's LR/SP/PC,
// then the two frame records.
    .macro  ftrace_regs_entry, allregs=0
    sub     sp, sp, #PT_REGS_SIZE + 16
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    .if \allregs == 1
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    .else
    str     x29, [sp, #S_FP]
    .endif
    add     x10, sp, #PT_REGS_SIZE + 16
    stp     x9, x10, [sp, #S_LR]
    str     x30, [sp, #S_PC]
    stp     x29, x9, [sp, #PT_REGS_SIZE]
    add     x29, sp, #PT_REGS_SIZE
    stp     x29, x30, [sp, #S_STACKFRAME]
    add     x29, sp, #S_STACKFRAME
    .endm

    .text
// The entry of call sites no SAVE_REGS ops traces (kernel 5.5..6.1 patch this one unless an ops
// on the site asks for SAVE_REGS): x10..x28 are not saved.
    .globl  ftrace_caller
    .type   ftrace_caller, %function
    .balign 8
ftrace_caller:
    bti     c
    ftrace_regs_entry 0
    b       ftrace_common
    .size   ftrace_caller, . - ftrace_caller

    .globl  ftrace_regs_caller
    .type   ftrace_regs_caller, %function
    .balign 8
ftrace_regs_caller:
    bti     c
    ftrace_regs_entry 1
    .globl  ftrace_common
ftrace_common:
    sub     x0, x30, #4
    mov     x1, x9
    adrp    x2, function_trace_op
    ldr     x2, [x2, :lo12:function_trace_op]
    mov     x3, sp
    .globl  ftrace_call
ftrace_call:
    bl      ftrace_stub
.if KLPEMU_GRAPH_CALLER
// Up to v5.19 the graph tracer is not an ops: ftrace_enable_ftrace_graph_caller patches this
// NOP into `b ftrace_graph_caller`.
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
    ldr     x30, [sp, #S_LR]
    ldr     x9, [sp, #S_PC]
    add     sp, sp, #PT_REGS_SIZE + 16
    .globl  ftrace_caller_ret
ftrace_caller_ret:
    ret     x9
    .size   ftrace_regs_caller, . - ftrace_regs_caller

.if KLPEMU_GRAPH_CALLER
// prepare_ftrace_return(ip, &the saved lr, the call site's fp): the lr restored on the way out
// is S_LR, and the call site's frame record {entry x29, x9} sits at PT_REGS_SIZE.
    .globl  ftrace_graph_caller
    .type   ftrace_graph_caller, %function
ftrace_graph_caller:
    ldr     x0, [sp, #S_PC]
    sub     x0, x0, #4
    add     x1, sp, #S_LR
    ldr     x2, [sp, #PT_REGS_SIZE]
    bl      prepare_ftrace_return
    b       ftrace_common_return
    .size   ftrace_graph_caller, . - ftrace_graph_caller
.endif
