// A thread-local (TLSLE) relocation: the kernel's apply_relocate_add rejects it with -ENOEXEC.
    .text
    .globl get_tls
    .type get_tls, %function
get_tls:
    add x0, x0, :tprel_lo12:some_tls_var
    ret
    .size get_tls, .-get_tls
    .section .tbss,"awT",%nobits
    .globl some_tls_var
some_tls_var:
    .zero 8
