/*
 * klpemu's kernel-compatibility linkage.h: the symbol-annotation macros arm64 entry code uses
 * (include/linux/linkage.h, arch/arm64/include/asm/linkage.h,
 * Documentation/core-api/asm-annotations.rst), written for klpemu from their documented meaning so
 * a kernel tree's entry-ftrace.S assembles unchanged. Only the assembler half exists: klpemu
 * preprocesses with -D__ASSEMBLY__. Both spellings are here: SYM_* (v5.5+) and
 * ENTRY/ENDPROC/GLOBAL/END (what v5.5 still used).
 */
#ifndef KLPEMU_COMPAT_LINUX_LINKAGE_H
#define KLPEMU_COMPAT_LINUX_LINKAGE_H

#define ASM_NL ;

/* Linkage: who sees the symbol. */
#define SYM_L_GLOBAL(name) .globl name
#define SYM_L_WEAK(name) .weak name
#define SYM_L_LOCAL(name) /* a plain label */

/* Alignment of a symbol's start: arm64 code is 4-byte aligned. */
#define SYM_A_ALIGN .balign 4
#define SYM_A_NONE /* none */

/* ELF symbol types. */
#define SYM_T_FUNC STT_FUNC
#define SYM_T_OBJECT STT_OBJECT
#define SYM_T_NONE STT_NOTYPE

/* The building blocks: a label with its linkage and alignment; an end that types and sizes it. */
#define SYM_ENTRY(name, linkage, align) linkage(name) ASM_NL align ASM_NL name:
#define SYM_START(name, linkage, align) SYM_ENTRY(name, linkage, align)
#define SYM_END(name, sym_type) .type name sym_type ASM_NL.size name, .- name

/* With CONFIG_ARM64_BTI_KERNEL every C-callable assembly function starts with a landing pad. */
#ifdef CONFIG_ARM64_BTI_KERNEL
#define KLPEMU_FUNC_BTI bti c;
#else
#define KLPEMU_FUNC_BTI
#endif

#define SYM_FUNC_START(name) SYM_START(name, SYM_L_GLOBAL, SYM_A_ALIGN) KLPEMU_FUNC_BTI
#define SYM_FUNC_START_NOALIGN(name) SYM_START(name, SYM_L_GLOBAL, SYM_A_NONE) KLPEMU_FUNC_BTI
#define SYM_FUNC_START_LOCAL(name) SYM_START(name, SYM_L_LOCAL, SYM_A_ALIGN) KLPEMU_FUNC_BTI
#define SYM_FUNC_START_LOCAL_NOALIGN(name) SYM_START(name, SYM_L_LOCAL, SYM_A_NONE) KLPEMU_FUNC_BTI
#define SYM_FUNC_START_WEAK(name) SYM_START(name, SYM_L_WEAK, SYM_A_ALIGN) KLPEMU_FUNC_BTI
#define SYM_FUNC_START_WEAK_NOALIGN(name) SYM_START(name, SYM_L_WEAK, SYM_A_NONE) KLPEMU_FUNC_BTI
#define SYM_FUNC_END(name) SYM_END(name, SYM_T_FUNC)

/* Code that does not follow the C calling convention (trampolines, return hooks). */
#define SYM_CODE_START(name) SYM_START(name, SYM_L_GLOBAL, SYM_A_ALIGN)
#define SYM_CODE_START_NOALIGN(name) SYM_START(name, SYM_L_GLOBAL, SYM_A_NONE)
#define SYM_CODE_START_LOCAL(name) SYM_START(name, SYM_L_LOCAL, SYM_A_ALIGN)
#define SYM_CODE_START_LOCAL_NOALIGN(name) SYM_START(name, SYM_L_LOCAL, SYM_A_NONE)
#define SYM_CODE_END(name) SYM_END(name, SYM_T_NONE)

/* A label inside a function or code block (a patch site such as ftrace_call). */
#define SYM_INNER_LABEL(name, linkage)                                                             \
    .type name SYM_T_NONE ASM_NL SYM_ENTRY(name, linkage, SYM_A_NONE)
#define SYM_INNER_LABEL_ALIGN(name, linkage)                                                       \
    .type name SYM_T_NONE ASM_NL SYM_ENTRY(name, linkage, SYM_A_ALIGN)

/* Data. */
#define SYM_DATA_START(name) SYM_START(name, SYM_L_GLOBAL, SYM_A_NONE)
#define SYM_DATA_START_LOCAL(name) SYM_START(name, SYM_L_LOCAL, SYM_A_NONE)
#define SYM_DATA_END(name) SYM_END(name, SYM_T_OBJECT)
#define SYM_DATA(name, ...) SYM_DATA_START(name) ASM_NL __VA_ARGS__ ASM_NL SYM_DATA_END(name)
#define SYM_DATA_LOCAL(name, ...)                                                                  \
    SYM_DATA_START_LOCAL(name) ASM_NL __VA_ARGS__ ASM_NL SYM_DATA_END(name)

/* Aliases of a function under another name (v6.0+). */
#define SYM_FUNC_ALIAS(alias, name) .globl alias ASM_NL.set alias, name ASM_NL.type alias STT_FUNC
#define SYM_FUNC_ALIAS_LOCAL(alias, name) .set alias, name ASM_NL.type alias STT_FUNC
#define SYM_FUNC_ALIAS_WEAK(alias, name)                                                           \
    .weak alias ASM_NL.set alias, name ASM_NL.type alias STT_FUNC

/* The pre-5.6 spellings. */
#define ALIGN .balign 4
#define GLOBAL(name) .globl name ASM_NL name:
#define ENTRY(name) .globl name ASM_NL ALIGN ASM_NL name:
#define END(name) .size name, .- name
#define ENDPROC(name) .type name, % function ASM_NL END(name)
#define WEAK(name) .weak name ASM_NL ALIGN ASM_NL name:

#endif
