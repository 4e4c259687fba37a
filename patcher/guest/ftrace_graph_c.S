// ftrace_graph_c.S: the C halves of the function-graph tracer that klpemu's engine supplies in
// the era's signature, spliced into ftrace_support.S (the bundled trampolines) and
// ftrace_source_support.S (a kernel tree's own entry-ftrace.S) where they say
// `// klpemu-splice: ftrace_graph_c.S`, so both get the same code at the same place.
// The including file sets KLPEMU_RET_ABI (0: x29, up to v6.4; 1: a struct fgraph_ret_regs,
// v6.5..v6.12; 2: a struct ftrace_regs, v6.13+) and KLPEMU_PREPARE_RETURN (whether
// prepare_ftrace_return, the graph caller's half up to v5.19, is defined).

// unsigned long ftrace_return_to_handler(...): pops the task's graph return stack (host call
// 0x101) and returns the real return address.
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

.if KLPEMU_PREPARE_RETURN
// void prepare_ftrace_return(unsigned long self_addr, unsigned long *parent, unsigned long fp):
// what ftrace_graph_caller calls once `ftrace_graph_call` is patched to branch to it (up to
// v5.19): the host pushes *parent on the graph return stack and writes return_to_handler there
// (host call 0x102).
    .globl  prepare_ftrace_return
    .type   prepare_ftrace_return, %function
    .balign 4
prepare_ftrace_return:
    hvc     #0x102
    ret
    .size   prepare_ftrace_return, . - prepare_ftrace_return
.endif
