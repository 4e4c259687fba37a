/*
 * klpemu's kernel-compatibility asm/ftrace.h: the assembler-visible part of arm64's ftrace
 * header. The call-site layout (MOV X9, LR; BL) makes rec->ip the BL, one instruction into the
 * patchable entry.
 */
#ifndef KLPEMU_COMPAT_ASM_FTRACE_H
#define KLPEMU_COMPAT_ASM_FTRACE_H

#include <asm/insn.h>

#define HAVE_FUNCTION_GRAPH_FP_TEST
#define MCOUNT_INSN_SIZE AARCH64_INSN_SIZE
#define FTRACE_PLT_IDX 0
#define FTRACE_REGS_PLT_IDX 1

#endif
