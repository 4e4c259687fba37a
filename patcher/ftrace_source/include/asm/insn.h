/*
 * klpemu's kernel-compatibility asm/insn.h: the one constant entry code takes from it. Every A64
 * instruction is one 32-bit word, so `x30 - AARCH64_INSN_SIZE` is the call site's BL.
 */
#ifndef KLPEMU_COMPAT_ASM_INSN_H
#define KLPEMU_COMPAT_ASM_INSN_H

#define AARCH64_INSN_SIZE 4

#endif
