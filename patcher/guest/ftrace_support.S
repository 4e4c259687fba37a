// ftrace_support.S: the pieces of arm64 ftrace every trampoline variant shares, written for
// klpemu from the kernel's behaviour (kernel/trace/ftrace.c, arch/arm64/kernel/entry-ftrace.S):
// ftrace_stub (the empty tracer), the tracer entry points that leave the guest through a host
// call so the C++ ftrace ops run, return_to_handler and ftrace_return_to_handler for the
// function-graph tracer in the era's frame and signature (the C++ side prepends
// `.set KLPEMU_RET_ABI, N`: 0, x29, up to v6.4; 1, a struct fgraph_ret_regs, v6.5..v6.12; 2, a
// struct ftrace_regs, v6.13+), and the ops records the trampolines read (function_trace_op, the
// CALL_OPS literal targets).
//
// Up to v5.19 (`.set KLPEMU_GRAPH_CALLER, 1`) it also has prepare_ftrace_return, which the
// pt_regs trampolines' ftrace_graph_caller calls.
//
// Host calls (patcher range 0x100..0x10f, see patcher/ftrace_host_calls.h):
//   hvc #0x100  ftrace ops callback: x0 = ip, x1 = parent_ip, x2 = ops, x3 = fregs/pt_regs
//   hvc #0x101  graph return: x0 = an fregs-shaped block (only fp at 80 is read); returns the
//               real return address
//   hvc #0x102  prepare_ftrace_return: x0 = ip, x1 = &the saved lr, x2 = the call site's fp

    .text

// The tracer that does nothing; `ftrace_call` starts as `bl ftrace_stub`.
    .globl  ftrace_stub
    .type   ftrace_stub, %function
    .balign 4
ftrace_stub:
    bti     c
    ret
    .size   ftrace_stub, . - ftrace_stub

// ops->func of every ops klpemu registers: the host looks the ops up by x2 and runs the C++
// callback(s). The kernel's ftrace_ops_list_func walks ftrace_ops_list the same way.
    .globl  ftrace_ops_list_func
    .type   ftrace_ops_list_func, %function
    .balign 4
ftrace_ops_list_func:
    bti     c
    hvc     #0x100
    ret
    .size   ftrace_ops_list_func, . - ftrace_ops_list_func

// ftrace_return_to_handler and, up to v5.19, prepare_ftrace_return (ftrace_graph_c.S).
    .set    KLPEMU_PREPARE_RETURN, KLPEMU_GRAPH_CALLER
// klpemu-splice: ftrace_graph_c.S

// The graph tracer replaced the traced function's return address with this. On arrival the
// function has returned: x0..x7 hold its results, x29 its caller's frame, SP its entry SP.
// It saves them in the era's frame and asks ftrace_return_to_handler for the real return
// address:
//
//   up to v6.4 (64 bytes)   v6.5..v6.12 (80)           v6.13+ (112, struct ftrace_regs)
//   SP+0   x0 x1            x0 x1                      x0 x1
//   SP+16  x2 x3            x2 x3                      x2 x3
//   SP+32  x4 x5            x4 x5                      x4 x5
//   SP+48  x6 x7            x6 x7                      x6 x7
//                           SP+64 x29 (FGRET_REGS_FP)  SP+80 x29 (FREGS_FP)
//   x0 = x29                x0 = SP                    x0 = SP
//
// x29 is compared with the fp recorded at entry (HAVE_FUNCTION_GRAPH_FP_TEST).
.if KLPEMU_RET_ABI == 0
    .equ    RET_FRAME, 64
.elseif KLPEMU_RET_ABI == 1
    .equ    RET_FRAME, 80
    .equ    RET_FP, 64
.else
    .equ    RET_FRAME, 112
    .equ    RET_FP, 80
.endif
    .globl  return_to_handler
    .type   return_to_handler, %function
    .balign 4
return_to_handler:
    sub     sp, sp, #RET_FRAME
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
.if KLPEMU_RET_ABI == 0
    mov     x0, x29
.else
    str     x29, [sp, #RET_FP]
    mov     x0, sp
.endif
    bl      ftrace_return_to_handler
    mov     x30, x0
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    add     sp, sp, #RET_FRAME
    .globl  return_to_handler_ret
return_to_handler_ret:
    ret
    .size   return_to_handler, . - return_to_handler

// struct ftrace_ops as the trampolines see it: { func, host id, direct_call } (func first,
// as in the kernel, so `ldr x4, [ops]; blr x4` calls it; direct_call is ops->direct_call, read
// by the 6.4+ CALL_OPS ftrace_caller at FTRACE_OPS_DIRECT_CALL = 16, 0 unless a direct ops).
    .data
    .balign 8
    .globl  ftrace_nop_ops
ftrace_nop_ops:
    .quad   ftrace_stub
    .quad   0
    .quad   0
    .globl  ftrace_list_ops
ftrace_list_ops:
    .quad   ftrace_ops_list_func
    .quad   0
    .quad   0
// What the non-CALL_OPS trampolines pass as `ops`.
    .globl  function_trace_op
function_trace_op:
    .quad   ftrace_list_ops
// Per-ops records for CALL_OPS call sites that only one ops traces (32 of them).
    .globl  ftrace_ops_pool
ftrace_ops_pool:
    .rept   32
    .quad   ftrace_ops_list_func
    .quad   0
    .quad   0
    .endr
    .globl  ftrace_ops_pool_end
ftrace_ops_pool_end:
