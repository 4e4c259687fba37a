// klp_support.S: the guest half of klpemu's livepatch engine (patcher/livepatch/livepatch.h),
// written for klpemu. Every kernel-API function a module calls (klp_enable_patch, the shadow
// variable and klp_state API, _printk, seq_printf, kzalloc/kfree, WARN's slow path) is a small
// stub that puts its operation number in x9 and enters klp_api, keeping its arguments in x0-x7
// (variadic arguments past x7 are on the stack, 16 bytes above klp_api's SP).
// The engine runs the operation in C++; when it needs guest code run (a klp_callbacks member, a
// shadow constructor/destructor, a module's init or exit) it answers "call x0(x1, x2, x3)", and
// klp_api calls it and hands the result back, until the engine answers "done, x4". This is how
// the kernel's livepatch core calls back into a module while holding klp_mutex, without
// starting emulation inside a host call.
//
// Host calls (patcher range): 0x110 start an operation (x9 = op, x0..x7 = arguments),
// 0x111 resume it with a callback's result in x0. Both return x0 = function to call (0: done),
// x1..x3 its arguments, x4 the operation's result.

        .equ HC_KLP_START, 0x110
        .equ HC_KLP_RESUME, 0x111

        .text
        .globl  klp_api
        .type   klp_api, %function
        .p2align 3
klp_api:
        .cfi_startproc
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        .cfi_offset x29, -16
        .cfi_offset x30, -8
        mov     x29, sp
        hvc     #HC_KLP_START
1:      cbz     x0, 2f
        mov     x16, x0
        mov     x0, x1
        mov     x1, x2
        mov     x2, x3
        blr     x16
        hvc     #HC_KLP_RESUME
        b       1b
2:      mov     x0, x4
        ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_same_value x29
        .cfi_same_value x30
        ret
        .cfi_endproc
        .size   klp_api, . - klp_api

// One stub per API function: op number in x9, then klp_api (a tail call: the stub leaves no
// frame, so a trace from a callback shows the module's caller of the API function).
        .macro  KLP_STUB name, op
        .globl  \name
        .type   \name, %function
        .p2align 2
\name:
        mov     x9, #\op
        b       klp_api
        .size   \name, . - \name
        .endm

        KLP_STUB klp_enable_patch, 1
        KLP_STUB klp_host_op, 2
        KLP_STUB _printk, 3
        KLP_STUB seq_printf, 4
        KLP_STUB seq_puts, 5
        KLP_STUB seq_putc, 6
        KLP_STUB kzalloc, 7
        KLP_STUB kmalloc, 8
        KLP_STUB kfree, 9
        KLP_STUB klp_shadow_get, 10
        KLP_STUB klp_shadow_alloc, 11
        KLP_STUB klp_shadow_get_or_alloc, 12
        KLP_STUB klp_shadow_free, 13
        KLP_STUB klp_shadow_free_all, 14
        KLP_STUB klp_get_state, 15
        KLP_STUB klp_get_prev_state, 16
        KLP_STUB klp_warn_slowpath, 17
// current, /sys/kernel directories and files (sysfs_tree.h), sprintf.
        KLP_STUB get_current, 40
        KLP_STUB kobject_create_and_add, 41
        KLP_STUB kobject_put, 42
        KLP_STUB sysfs_create_file, 43
        KLP_STUB sysfs_emit, 44
        KLP_STUB sprintf, 44
// The calling task's __state (set_current_state) and its fake signal (signal_pending).
        KLP_STUB klpemu_set_task_state, 45
        KLP_STUB klpemu_signal_pending, 46

// The seq_file a `cat /proc/...` read fills (its output is collected by the host).
        .data
        .p2align 3
        .globl  klp_seq_file
klp_seq_file:
        .quad   0, 0, 0, 0

// /sys/kernel's kobject (kernel_kobj) and the page a sysfs show() writes into.
        .section .rodata
klp_kernel_kobj_name:
        .asciz  "kernel"
        .data
        .p2align 3
klp_kernel_kobject:
        .quad   klp_kernel_kobj_name, 0
        .globl  kernel_kobj
kernel_kobj:
        .quad   klp_kernel_kobject
        .bss
        .p2align 12
        .globl  klp_sysfs_page
klp_sysfs_page:
        .space  0x1000

// The tiny allocator's arena (kzalloc, klp_shadow_alloc): the engine hands out blocks.
        .bss
        .p2align 4
        .globl  klp_heap, klp_heap_end
klp_heap:
        .space  0x10000
klp_heap_end:
