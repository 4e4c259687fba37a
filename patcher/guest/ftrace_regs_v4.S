// ftrace_regs_v4.S: Torsten Duwe's "arm64: implement ftrace with regs" series from v4 on (2019),
// written for klpemu from the entry code as the series posted it. v4's own text is not in any
// archive we could reach; its cover letter (seeds/000) describes the layout: "The dynamic ftrace
// caller creates 2 stack frames [...]: first a 'preliminary' for the callee, and another for
// ftrace_caller itself", and the series' last posting (v8, reposted as "[PATCH 2/3] arm64:
// implement ftrace with regs", Message-ID <20190819191722.0b029bd2@xhacker.debian>) spells it
// out. That posting is modelled here, instruction for instruction:
//
// - One `sub sp, sp, #(S_FRAME_SIZE + 16)` makes room for pt_regs plus the callee's record, so
//   nothing is written below SP (Ard's first review point, seeds/001).
// - pt_regs sits at SP and is passed in x3; x28 is saved with x29 and used for the entry SP.
// - The "preliminary" record {entry x29, x9} goes above pt_regs, at S_FRAME_SIZE; the
//   trampoline's own {x29, x30} is pt_regs.stackframe (S_STACKFRAME), and x29 ends there.
// - The tracer gets ip = lr - AARCH64_INSN_SIZE, the bl, which is rec->ip once
//   ftrace_call_adjust has skipped the `mov x9, lr`.
//
// Where it differs from Ard's review (seeds/001), which proposed two pre-indexed pushes,
// {x29, x9} and then {x29, x30} with S_FRAME_SIZE + 16 more (352 bytes): the posted code
// takes 336 bytes and builds both records only after it has saved the argument and callee
// registers. Until its 21st instruction (`add x29, sp, #S_FRAME_SIZE`) has run, x29 is still
// the traced function's caller's frame and the caller's return address is only in x9 and
// pt_regs.regs[30]: a frame-pointer walk from inside that window does not see the traced
// function's caller, as under v3. 2018 pt_regs: S_FRAME_SIZE = 320, stackframe at 304.
//
// Frame while the tracer runs (S = entry SP - 336, ascending):
//
//   S+0    pt_regs: regs[0..27]            x3 = S is the pt_regs pointer
//   S+224  regs[28] = entry x28, regs[29] = entry x29     S_X28, S_FP
//   S+240  regs[30] = x9 (lr)              S_LR
//   S+248  sp = entry SP                   S_SP
//   S+256  pc = x30 (rec->ip + 4)          S_PC
//   S+304  {fp = S+320, lr = x30}          pt_regs.stackframe; x29 points here
//   S+320  {fp = entry x29, lr = x9}       the callee's preliminary record
//   S+336  entry SP

    .equ    S_X8, 64
    .equ    S_X28, 224
    .equ    S_LR, 240
    .equ    S_PC, 256
    .equ    S_STACKFRAME, 304
    .equ    S_FRAME_SIZE, 320

    .text
    .globl  ftrace_regs_caller
    .type   ftrace_regs_caller, %function
    .balign 8
ftrace_regs_caller:
    sub     sp, sp, #(S_FRAME_SIZE + 16)
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #S_X8]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #S_X28]
    add     x28, sp, #(S_FRAME_SIZE + 16)
    stp     x9, x28, [sp, #S_LR]
    str     x30, [sp, #S_PC]
    stp     x29, x9, [sp, #S_FRAME_SIZE]
    add     x29, sp, #S_FRAME_SIZE
    stp     x29, x30, [sp, #S_STACKFRAME]
    add     x29, sp, #S_STACKFRAME
    b       ftrace_common
    .size   ftrace_regs_caller, . - ftrace_regs_caller

    .type   ftrace_common, %function
ftrace_common:
    mov     x3, sp
    adrp    x0, function_trace_op
    ldr     x2, [x0, :lo12:function_trace_op]
    mov     x1, x9
    sub     x0, x30, #4
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
// Only the argument registers, x28 and x29 come back: everything else is either scratch or
// callee-saved in the code ftrace calls (the posting's comment on IPA-RA).
ftrace_common_return:
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldr     x8, [sp, #S_X8]
    ldp     x28, x29, [sp, #S_X28]
    ldr     x30, [sp, #S_LR]
    ldr     x9, [sp, #S_PC]
    add     sp, sp, #(S_FRAME_SIZE + 16)
    .globl  ftrace_caller_ret
ftrace_caller_ret:
    ret     x9
    .size   ftrace_common, . - ftrace_common

.if KLPEMU_GRAPH_CALLER
// prepare_ftrace_return(ip, &the saved lr, the call site's fp): the lr restored on the way out
// is regs[30] (x9 at entry); the call site's fp is read from the preliminary record.
    .globl  ftrace_graph_caller
    .type   ftrace_graph_caller, %function
ftrace_graph_caller:
    ldr     x0, [sp, #S_PC]
    sub     x0, x0, #4
    add     x1, sp, #S_LR
    ldr     x2, [sp, #S_FRAME_SIZE]
    bl      prepare_ftrace_return
    b       ftrace_common_return
    .size   ftrace_graph_caller, . - ftrace_graph_caller
.endif
