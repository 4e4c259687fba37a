// A module whose core text calls three distinct kernel functions (kernel_add twice: one PLT
// entry serves both calls) and whose init text calls only into the module itself, so a far
// placement needs exactly three `.plt` entries and no `.init.plt` entry.
    .text
    .globl mod_compute
    .type mod_compute, %function
mod_compute:
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    bl kernel_add
    bl kernel_mul
    bl kernel_add
    bl kernel_inc
    ldp x29, x30, [sp], #16
    ret
    .size mod_compute, .-mod_compute

    .section .init.text,"ax",@progbits
    .globl init
    .type init, %function
init:
    b mod_compute
    .size init, .-init

    .data
    .globl mod_counter
mod_counter:
    .quad 0
