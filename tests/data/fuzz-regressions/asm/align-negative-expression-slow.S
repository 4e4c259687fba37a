.align 1-2
nop
