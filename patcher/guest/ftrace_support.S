// ftrace_support.S: the pieces of arm64 ftrace every trampoline variant shares, written for
// klpemu from the kernel's behaviour (kernel/trace/ftrace.c, arch/arm64/kernel/entry-ftrace.S):
// ftrace_stub (the empty tracer), the tracer entry points that leave the guest through a host
// call so the C++ ftrace ops run, return_to_handler for the function-graph tracer, and the ops
// records the trampolines read (function_trace_op, the CALL_OPS literal targets).
//
// Host calls (patcher range 0x100..0x10f, see patcher/ftrace_host_calls.h):
//   hvc #0x100  ftrace ops callback: x0 = ip, x1 = parent_ip, x2 = ops, x3 = fregs/pt_regs
//   hvc #0x101  graph return: x0 = return_to_handler's fregs; returns the real return address

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

// The C half of return_to_handler: pops the task's graph return stack.
    .globl  ftrace_return_to_handler
    .type   ftrace_return_to_handler, %function
    .balign 4
ftrace_return_to_handler:
    hvc     #0x101
    ret
    .size   ftrace_return_to_handler, . - ftrace_return_to_handler

// The graph tracer replaced the traced function's return address with this. On arrival the
// function has returned: x0..x7 hold its results, x29 its caller's frame, SP its entry SP.
//
//   SP+0   x0 x1     fregs (the ftrace_regs layout; only these slots are filled)
//   SP+16  x2 x3
//   SP+32  x4 x5
//   SP+48  x6 x7
//   SP+80  x29       compared with the fp recorded at entry (HAVE_FUNCTION_GRAPH_FP_TEST)
//   SP+112           the SP the function returned with
    .globl  return_to_handler
    .type   return_to_handler, %function
    .balign 4
return_to_handler:
    sub     sp, sp, #112
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    str     x29, [sp, #80]
    mov     x0, sp
    bl      ftrace_return_to_handler
    mov     x30, x0
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    add     sp, sp, #112
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
