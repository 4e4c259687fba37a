// The "kernel" half of the relocation self-test: the absolute symbols that
// arch/arm64/kernel/reloc_test_core.c defines with `.set`, and a data symbol far away from the
// module for the ADRP-to-kernel case (memstart_addr in the kernel's test).
        .set    sym64_abs, 0xffff880000cccccc
        .set    sym32_abs, 0xf800cccc
        .set    sym16_abs, 0xf8cc
        .globl  sym64_abs, sym32_abs, sym16_abs

        .data
        .globl  memstart_addr
        .type   memstart_addr, %object
        .p2align 3
memstart_addr:
        .quad   0
        .size   memstart_addr, 8
