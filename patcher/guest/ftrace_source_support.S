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

// ftrace_return_to_handler and prepare_ftrace_return (ftrace_graph_c.S). An own file calling
// prepare_ftrace_return on an era that never patches ftrace_graph_call stops with not-modelled.
    .set    KLPEMU_PREPARE_RETURN, 1
// klpemu-splice: ftrace_graph_c.S

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
