.irp d, rept
.rept 4
x: .\d 32
nop
.endr
.endr
.endr
