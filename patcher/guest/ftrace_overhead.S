// ftrace_overhead.S: the workload patcher/ftrace_overhead.cpp measures: leaf() and leaf_loop(),
// which calls leaf() n times, exactly as clang-19 -O2 compiles them with the kernel's ftrace
// flags (-fpatchable-function-entry=2, or =4,2 with -falign-functions=8 for CALL_OPS):
//
//   __attribute__((noinline)) long leaf(long a, long b) { return a * 3 + b; }
//   __attribute__((noinline)) long leaf_loop(long n) {
//       long s = 0;
//       for (long i = 0; i < n; i++) s += leaf(i, 1);
//       return s;
//   }
//
// Shipping the compiler's output keeps the report independent of an installed compiler and of
// its version. measure_ftrace_overhead() prepends `.equ FTRACE_CALL_OPS, 0|1` to pick the
// call-site layout.

    .text
    .globl  leaf
    .type   leaf, %function
.if FTRACE_CALL_OPS
    .p2align 3
.Lleaf_patch:
    nop                         // CALL_OPS literal, low word
    nop                         // CALL_OPS literal, high word
leaf:
.else
    .p2align 2
leaf:
.Lleaf_patch:
.endif
    nop                         // mov x9, x30 after ftrace_init_nop
    nop                         // bl ftrace_caller while traced
    add     x8, x0, x0, lsl #1
    add     x0, x8, x1
    ret
    .size   leaf, . - leaf
    .section __patchable_function_entries,"awo",@progbits,leaf
    .p2align 3
    .xword  .Lleaf_patch

    .text
    .globl  leaf_loop
    .type   leaf_loop, %function
.if FTRACE_CALL_OPS
    .p2align 3
.Lleaf_loop_patch:
    nop
    nop
leaf_loop:
.else
    .p2align 2
leaf_loop:
.Lleaf_loop_patch:
.endif
    nop
    nop
    stp     x29, x30, [sp, #-48]!
    cmp     x0, #1
    str     x21, [sp, #16]
    mov     x29, sp
    stp     x20, x19, [sp, #32]
    b.lt    .Lleaf_loop_none
    mov     x19, x0
    mov     x21, xzr
    mov     x20, xzr
.Lleaf_loop_next:
    mov     x0, x21
    mov     w1, #1
    bl      leaf
    add     x21, x21, #1
    add     x20, x0, x20
    cmp     x19, x21
    b.ne    .Lleaf_loop_next
    b       .Lleaf_loop_done
.Lleaf_loop_none:
    mov     x20, xzr
.Lleaf_loop_done:
    mov     x0, x20
    ldp     x20, x19, [sp, #32]
    ldr     x21, [sp, #16]
    ldp     x29, x30, [sp], #48
    ret
    .size   leaf_loop, . - leaf_loop
    .section __patchable_function_entries,"awo",@progbits,leaf_loop
    .p2align 3
    .xword  .Lleaf_loop_patch
