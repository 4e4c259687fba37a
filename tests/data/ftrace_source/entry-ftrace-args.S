/*
 * entry-ftrace-args.S: a trampoline written for klpemu's tests in the shape of a kernel tree's
 * arch/arm64/kernel/entry-ftrace.S for v6.5+ (DYNAMIC_FTRACE_WITH_ARGS, optionally
 * WITH_CALL_OPS and WITH_DIRECT_CALLS), using the same headers and macros, so that klpemu builds
 * it exactly as it builds a user's file ([machine] ftrace_source, docs/own-code.md). The
 * scenarios/own/broken-*.toml scenarios run it with one line changed ([machine]
 * ftrace_source_edit), one mistake each.
 *
 * A call site `mov x9, x30; bl ftrace_caller` arrives with x30 = rec->ip + 4, x9 = the traced
 * function's return address, x29 and SP as at the function's entry. Frame while the tracer
 * runs (S = entry SP - FREGS_SIZE - 32):
 *
 *   S                  struct ftrace_regs (x0-x8, fp, lr, sp, pc)
 *   S + FREGS_SIZE     { fp = S + FREGS_SIZE + 16, lr = rec->ip + 4 }   x29 points here
 *   S + FREGS_SIZE+16  { fp = entry x29, lr = x9 }                      the call site's record
 *   S + FREGS_SIZE+32  entry SP
 */
#include <linux/linkage.h>
#include <linux/cfi_types.h>
#include <asm/asm-offsets.h>
#include <asm/assembler.h>
#include <asm/ftrace.h>
#include <asm/insn.h>

#ifndef CONFIG_DYNAMIC_FTRACE_WITH_ARGS
#error "entry-ftrace-args.S is the WITH_ARGS trampoline"
#endif

SYM_CODE_START(ftrace_caller)
	bti	c

#ifdef CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS
	/* The site's ops pointer: an 8-byte literal 16 bytes below the BL's return, aligned down. */
	bic	x11, x30, #7
	ldr	x11, [x11, #-(4 * AARCH64_INSN_SIZE)]
#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
	/* An ops with a direct trampoline goes there without saving anything. */
	ldr	x17, [x11, #FTRACE_OPS_DIRECT_CALL]
	cbnz	x17, .Ldirect
#endif
#endif

	mov	x10, sp
	sub	sp, sp, #(FREGS_SIZE + 32)

	/* The argument registers, as ftrace_regs_get_argument() reads them. */
	stp	x0, x1, [sp, #FREGS_X0]
	stp	x2, x3, [sp, #FREGS_X2]
	stp	x4, x5, [sp, #FREGS_X4]
	stp	x6, x7, [sp, #FREGS_X6]
	str	x8, [sp, #FREGS_X8]
#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
	str	xzr, [sp, #FREGS_DIRECT_TRAMP]
#endif
	/* fp, lr (the traced function's return), sp, pc (where we resume). */
	str	x29, [sp, #FREGS_FP]
	str	x9, [sp, #FREGS_LR]
	str	x10, [sp, #FREGS_SP]
	str	x30, [sp, #FREGS_PC]

	/* Two frame records: the call site's, then ours, so an unwinder sees both functions. */
	stp	x29, x9, [sp, #FREGS_SIZE + 16]
	add	x29, sp, #FREGS_SIZE + 16
	stp	x29, x30, [sp, #FREGS_SIZE]
	add	x29, sp, #FREGS_SIZE

	/* tracer(ip, parent_ip, op, fregs) */
	sub	x0, x30, #AARCH64_INSN_SIZE
	mov	x1, x9
	mov	x3, sp
#ifdef CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS
	mov	x2, x11
	ldr	x4, [x2, #FTRACE_OPS_FUNC]
	blr	x4
#else
	ldr_l	x2, function_trace_op
SYM_INNER_LABEL(ftrace_call, SYM_L_GLOBAL)
	bl	ftrace_stub
#endif

	/* Back to the traced function (or wherever a callback pointed pc and lr). */
	ldp	x0, x1, [sp, #FREGS_X0]
	ldp	x2, x3, [sp, #FREGS_X2]
	ldp	x4, x5, [sp, #FREGS_X4]
	ldp	x6, x7, [sp, #FREGS_X6]
	ldr	x8, [sp, #FREGS_X8]
	ldr	x29, [sp, #FREGS_FP]
#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
	/* A direct ops traced beside other ops: call_direct_funcs left its trampoline here. */
	ldr	x17, [sp, #FREGS_DIRECT_TRAMP]
	cbnz	x17, .Ldirect_late
#endif
	ldr	x30, [sp, #FREGS_LR]
	ldr	x9, [sp, #FREGS_PC]
	add	sp, sp, #(FREGS_SIZE + 32)
	ret	x9

#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
	/*
	 * A direct trampoline starts as if the call site had branched to it: x9 = the traced
	 * function's return address, x30 = its body, SP as at its entry.
	 */
.Ldirect_late:
	ldr	x9, [sp, #FREGS_LR]
	ldr	x30, [sp, #FREGS_PC]
	add	sp, sp, #(FREGS_SIZE + 32)
.Ldirect:
	br	x17
#endif
SYM_CODE_END(ftrace_caller)

SYM_TYPED_FUNC_START(ftrace_stub)
	ret
SYM_FUNC_END(ftrace_stub)

SYM_TYPED_FUNC_START(ftrace_stub_graph)
	ret
SYM_FUNC_END(ftrace_stub_graph)

#ifdef CONFIG_FUNCTION_GRAPH_TRACER
/*
 * The graph tracer's return hook: keep the return values, ask for the real return address.
 * What it hands ftrace_return_to_handler follows the kernel: a struct fgraph_ret_regs on
 * v6.5..v6.12 (asm-offsets has FGRET_REGS_*), a struct ftrace_regs from v6.13.
 */
#ifdef FGRET_REGS_SIZE
#define RET_REGS(field)	FGRET_REGS_##field
#else
#define RET_REGS(field)	FREGS_##field
#endif
SYM_CODE_START(return_to_handler)
	sub	sp, sp, #RET_REGS(SIZE)
	stp	x0, x1, [sp, #RET_REGS(X0)]
	stp	x2, x3, [sp, #RET_REGS(X2)]
	stp	x4, x5, [sp, #RET_REGS(X4)]
	stp	x6, x7, [sp, #RET_REGS(X6)]
	str	x29, [sp, #RET_REGS(FP)]

	mov	x0, sp
	bl	ftrace_return_to_handler
	mov	x30, x0

	ldp	x0, x1, [sp, #RET_REGS(X0)]
	ldp	x2, x3, [sp, #RET_REGS(X2)]
	ldp	x4, x5, [sp, #RET_REGS(X4)]
	ldp	x6, x7, [sp, #RET_REGS(X6)]
	add	sp, sp, #RET_REGS(SIZE)
	ret
SYM_CODE_END(return_to_handler)
#endif
