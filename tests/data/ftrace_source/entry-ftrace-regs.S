/*
 * entry-ftrace-regs.S: a trampoline written for klpemu's tests in the shape of a kernel tree's
 * arch/arm64/kernel/entry-ftrace.S for v5.5..v6.1 (DYNAMIC_FTRACE_WITH_REGS), using the same
 * headers and macros, so that klpemu builds it exactly as it builds a user's file.
 *
 * Two entries share one body: ftrace_caller saves what the AAPCS makes live at a call (x0-x8,
 * fp), ftrace_regs_caller all of x0-x29 for FTRACE_OPS_FL_SAVE_REGS callers. Frame while the
 * tracer runs (S = entry SP - PT_REGS_SIZE - 16):
 *
 *   S                  struct pt_regs (S_X0.., S_FP, S_LR, S_SP, S_PC)
 *   S + S_STACKFRAME   { fp = S + PT_REGS_SIZE, lr = rec->ip + 4 }   x29 points here
 *   S + PT_REGS_SIZE   { fp = entry x29, lr = x9 }                   the call site's record
 */
#include <linux/linkage.h>
#include <asm/asm-offsets.h>
#include <asm/assembler.h>
#include <asm/ftrace.h>
#include <asm/insn.h>

#ifndef CONFIG_DYNAMIC_FTRACE_WITH_REGS
#error "entry-ftrace-regs.S is the WITH_REGS trampoline"
#endif

	.macro	save_site, all
	sub	sp, sp, #(PT_REGS_SIZE + 16)
	stp	x0, x1, [sp, #S_X0]
	stp	x2, x3, [sp, #S_X2]
	stp	x4, x5, [sp, #S_X4]
	stp	x6, x7, [sp, #S_X6]
	stp	x8, x9, [sp, #S_X8]
	.if	\all
	stp	x10, x11, [sp, #S_X10]
	stp	x12, x13, [sp, #S_X12]
	stp	x14, x15, [sp, #S_X14]
	stp	x16, x17, [sp, #S_X16]
	stp	x18, x19, [sp, #S_X18]
	stp	x20, x21, [sp, #S_X20]
	stp	x22, x23, [sp, #S_X22]
	stp	x24, x25, [sp, #S_X24]
	stp	x26, x27, [sp, #S_X26]
	stp	x28, x29, [sp, #S_X28]
	.else
	str	x29, [sp, #S_FP]
	.endif
	/* lr and sp of the call site, then the pc we resume at. */
	add	x10, sp, #(PT_REGS_SIZE + 16)
	stp	x9, x10, [sp, #S_LR]
	str	x30, [sp, #S_PC]
	/* The call site's frame record above pt_regs, ours inside it. */
	stp	x29, x9, [sp, #PT_REGS_SIZE]
	add	x29, sp, #PT_REGS_SIZE
	stp	x29, x30, [sp, #S_STACKFRAME]
	add	x29, sp, #S_STACKFRAME
	.endm

SYM_CODE_START(ftrace_regs_caller)
	bti	c
	save_site 1
	b	ftrace_common
SYM_CODE_END(ftrace_regs_caller)

SYM_CODE_START(ftrace_caller)
	bti	c
	save_site 0
	b	ftrace_common
SYM_CODE_END(ftrace_caller)

SYM_CODE_START(ftrace_common)
	sub	x0, x30, #AARCH64_INSN_SIZE
	mov	x1, x9
	ldr_l	x2, function_trace_op
	mov	x3, sp
SYM_INNER_LABEL(ftrace_call, SYM_L_GLOBAL)
	bl	ftrace_stub
#ifdef CONFIG_FUNCTION_GRAPH_TRACER
SYM_INNER_LABEL(ftrace_graph_call, SYM_L_GLOBAL)
	nop
#endif
.Lcommon_return:
	ldp	x0, x1, [sp, #S_X0]
	ldp	x2, x3, [sp, #S_X2]
	ldp	x4, x5, [sp, #S_X4]
	ldp	x6, x7, [sp, #S_X6]
	ldr	x8, [sp, #S_X8]
	ldr	x29, [sp, #S_FP]
	ldr	x30, [sp, #S_LR]
	ldr	x9, [sp, #S_PC]
	add	sp, sp, #(PT_REGS_SIZE + 16)
	ret	x9
SYM_CODE_END(ftrace_common)

#ifdef CONFIG_FUNCTION_GRAPH_TRACER
/* Reached once ftrace_graph_call branches here: prepare_ftrace_return(ip, &lr, fp). */
SYM_CODE_START(ftrace_graph_caller)
	ldr	x0, [sp, #S_PC]
	sub	x0, x0, #AARCH64_INSN_SIZE
	add	x1, sp, #S_LR
	ldr	x2, [sp, #PT_REGS_SIZE]
	bl	prepare_ftrace_return
	b	.Lcommon_return
SYM_CODE_END(ftrace_graph_caller)
#endif

SYM_FUNC_START(ftrace_stub)
	ret
SYM_FUNC_END(ftrace_stub)

#ifdef CONFIG_FUNCTION_GRAPH_TRACER
/* The graph tracer's return hook (up to v6.4: x0 = the x29 the function returned with). */
SYM_CODE_START(return_to_handler)
	sub	sp, sp, #64
	stp	x0, x1, [sp]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	mov	x0, x29
	bl	ftrace_return_to_handler
	mov	x30, x0
	ldp	x0, x1, [sp]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	add	sp, sp, #64
	ret
SYM_CODE_END(return_to_handler)
#endif
