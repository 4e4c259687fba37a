// The functions of the kernel's relocation self-test (arch/arm64/kernel/reloc_test_syms.S),
// restated without <linux/linkage.h>. Each returns, in x0, a value that is right only if the
// loader applied one relocation type the way apply_relocate_add does.
// sym64_abs, sym32_abs, sym16_abs and memstart_addr come from reloc_test_core.S, loaded first
// as the "kernel", so every reference below stays a relocation for the loader to apply.

        .text
        .macro  func name
        .globl  \name
        .type   \name, %function
        .p2align 2
\name:
        .endm
        .macro  endfunc name
        .size   \name, . - \name
        .endm

        func    absolute_data64           // R_AARCH64_ABS64
        ldr     x0, 0f
        ret
0:      .quad   sym64_abs
        endfunc absolute_data64

        func    absolute_data32           // R_AARCH64_ABS32
        ldr     w0, 0f
        ret
0:      .long   sym32_abs
        endfunc absolute_data32

        func    absolute_data16           // R_AARCH64_ABS16
        adr     x0, 0f
        ldrh    w0, [x0]
        ret
0:      .short  sym16_abs, 0
        endfunc absolute_data16

        func    signed_movw               // R_AARCH64_MOVW_SABS_G2 + UABS_G1_NC/G0_NC
        movz    x0, #:abs_g2_s:sym64_abs
        movk    x0, #:abs_g1_nc:sym64_abs
        movk    x0, #:abs_g0_nc:sym64_abs
        ret
        endfunc signed_movw

        func    unsigned_movw             // R_AARCH64_MOVW_UABS_G3/G2_NC/G1_NC/G0_NC
        movz    x0, #:abs_g3:sym64_abs
        movk    x0, #:abs_g2_nc:sym64_abs
        movk    x0, #:abs_g1_nc:sym64_abs
        movk    x0, #:abs_g0_nc:sym64_abs
        ret
        endfunc unsigned_movw

        .p2align 12
        .space  0xff8
        func    relative_adrp             // R_AARCH64_ADR_PREL_PG_HI21 + ADD_ABS_LO12_NC
        adrp    x0, sym64_rel
        add     x0, x0, #:lo12:sym64_rel
        ret
        endfunc relative_adrp

        .p2align 12
        .space  0xffc
        func    relative_adrp_far         // ADRP to a kernel export far away
        adrp    x0, memstart_addr
        add     x0, x0, #:lo12:memstart_addr
        ret
        endfunc relative_adrp_far

        func    relative_adr              // R_AARCH64_ADR_PREL_LO21
        adr     x0, sym64_rel
        ret
        endfunc relative_adr

        func    relative_data64           // R_AARCH64_PREL64
        adr     x1, 0f
        ldr     x0, [x1]
        add     x0, x0, x1
        ret
0:      .quad   sym64_rel - .
        endfunc relative_data64

        func    relative_data32           // R_AARCH64_PREL32
        adr     x1, 0f
        ldr     w0, [x1]
        add     x0, x0, x1
        ret
0:      .long   sym64_rel - .
        endfunc relative_data32

        func    relative_data16           // R_AARCH64_PREL16
        adr     x1, 0f
        ldrsh   w0, [x1]
        add     x0, x0, x1
        ret
0:      .short  sym64_rel - ., 0
        endfunc relative_data16

        .data
        .globl  sym64_rel
        .type   sym64_rel, %object
        .p2align 2
sym64_rel:
        .long   0
        .size   sym64_rel, 4
