// A kernel exporting three functions for tests/data/cli/plt_module.S to call through PLTs.
    .text
    .globl kernel_add
    .type kernel_add, %function
kernel_add:
    add x0, x0, x1
    ret
    .size kernel_add, .-kernel_add
    .globl kernel_mul
    .type kernel_mul, %function
kernel_mul:
    mul x0, x0, x1
    ret
    .size kernel_mul, .-kernel_mul
    .globl kernel_inc
    .type kernel_inc, %function
kernel_inc:
    add x0, x0, #1
    ret
    .size kernel_inc, .-kernel_inc
