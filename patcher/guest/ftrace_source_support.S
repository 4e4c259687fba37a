// ftrace_source_support.S: what klpemu's engine supplies to a kernel tree's own entry-ftrace.S
// (patcher/ftrace_source.h), written for klpemu from the kernel's interfaces: the tracer entry
// the patched `ftrace_call` and every ops->func reach (ftrace_ops_list_func, a host call into
// the C++ ops), the C halves of the graph tracer in the era's signature
// (ftrace_return_to_handler, prepare_ftrace_return), function_trace_op and the guest struct
// ftrace_ops records the CALL_OPS literals point at. ftrace_stub, ftrace_stub_graph and
// return_to_handler come from the user's file.
//
// The C++ side prepends `.set KLPEMU_RET_ABI, 0|1|2` (how the era calls ftrace_return_to_handler:
// x29, a struct fgraph_ret_regs, a struct ftrace_regs) and fills ftrace_nop_ops' func with the
// file's ftrace_stub once both objects are loaded.
//
// Host calls:
//   hvc #0x100  ftrace ops callback: x0 = ip, x1 = parent_ip, x2 = ops, x3 = fregs/pt_regs
//   hvc #0x101  graph return: x0 = return_to_handler's fregs; returns the real return address
//   hvc #0x102  prepare_ftrace_return: x0 = ip, x1 = &parent, x2 = the traced function's fp

    .text

// ops->func of every ops klpemu registers (and the target of the patched ftrace_call).
    .globl  ftrace_ops_list_func
    .type   ftrace_ops_list_func, %function
    .balign 4
ftrace_ops_list_func:
    bti     c
    hvc     #0x100
    ret
    .size   ftrace_ops_list_func, . - ftrace_ops_list_func

// unsigned long ftrace_return_to_handler(...): the graph return stack's pop.
    .globl  ftrace_return_to_handler
    .type   ftrace_return_to_handler, %function
    .balign 4
ftrace_return_to_handler:
.if KLPEMU_RET_ABI == 1
// v6.5..v6.12: x0 is the struct fgraph_ret_regs return_to_handler built; its fp is at offset 64
// (FGRET_REGS_FP). From here on as up to v6.4, where x0 is the x29 return_to_handler saw.
    ldr     x0, [x0, #64]
.endif
.if KLPEMU_RET_ABI <= 1
// Give the host call the fregs-shaped block it reads (only fp at offset 80 is used).
    sub     sp, sp, #112
    str     x0, [sp, #80]
    mov     x0, sp
    hvc     #0x101
    add     sp, sp, #112
.else
// v6.13+: x0 is the struct ftrace_regs return_to_handler built.
    hvc     #0x101
.endif
    ret
    .size   ftrace_return_to_handler, . - ftrace_return_to_handler

// void prepare_ftrace_return(unsigned long self_addr, unsigned long *parent, unsigned long fp):
// what ftrace_graph_caller calls once `ftrace_graph_call` is patched to branch to it (up to
// v5.19): the host pushes *parent on the graph return stack and writes return_to_handler there.
    .globl  prepare_ftrace_return
    .type   prepare_ftrace_return, %function
    .balign 4
prepare_ftrace_return:
    hvc     #0x102
    ret
    .size   prepare_ftrace_return, . - prepare_ftrace_return

// struct ftrace_ops as entry-ftrace.S sees it through asm-offsets.h:
//   +0 func (FTRACE_OPS_FUNC)   +8 klpemu's host id   +16 direct_call (FTRACE_OPS_DIRECT_CALL)
// direct_call is a registered direct ops' trampoline (register_ftrace_direct), else 0.
    .data
    .balign 8
    .globl  ftrace_nop_ops
ftrace_nop_ops:
    .quad   0, 0, 0, 0
    .globl  ftrace_list_ops
ftrace_list_ops:
    .quad   ftrace_ops_list_func, 0, 0, 0
// What the non-CALL_OPS trampolines pass as `ops`.
    .globl  function_trace_op
function_trace_op:
    .quad   ftrace_list_ops
// Per-ops records for CALL_OPS call sites that only one ops traces (32 of them).
    .balign 8
    .globl  ftrace_ops_pool
ftrace_ops_pool:
    .rept   32
    .quad   ftrace_ops_list_func, 0, 0, 0
    .endr
    .globl  ftrace_ops_pool_end
ftrace_ops_pool_end:
