/*
 * klpemu's kernel-compatibility asm/assembler.h: the assembler macros arm64 entry code uses,
 * written for klpemu from what they expand to in a kernel build:
 *   adr_l   dst, sym        the address of sym, PC-relative over +/-4 GiB (ADRP + ADD)
 *   ldr_l   dst, sym[, tmp] load the value at sym (ADRP + LDR :lo12:)
 *   str_l   src, sym, tmp   store to sym (ADRP + STR :lo12:)
 *   NOKPROBE(sym)           keep kprobes off sym (an entry in _kprobe_blacklist; nothing here)
 * and the exports entry code reaches through this header.
 */
#ifndef KLPEMU_COMPAT_ASM_ASSEMBLER_H
#define KLPEMU_COMPAT_ASM_ASSEMBLER_H

#include <asm/insn.h>
#include <linux/export.h>

#define NOKPROBE(sym)

.macro	adr_l, dst, sym
	adrp	\dst, \sym
	add	\dst, \dst, :lo12:\sym
	.endm

	.macro	ldr_l, dst, sym, tmp=
	.ifb	\tmp
	adrp	\dst, \sym
	ldr	\dst, [\dst, :lo12:\sym]
	.else
	adrp	\tmp, \sym
	ldr	\dst, [\tmp, :lo12:\sym]
	.endif
	.endm

	.macro	str_l, src, sym, tmp
	adrp	\tmp, \sym
	str	\src, [\tmp, :lo12:\sym]
	.endm

#endif
