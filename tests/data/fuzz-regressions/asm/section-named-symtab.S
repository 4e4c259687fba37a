// klp_support.S: the guest half of klp from a callback shows the module's caller of the API function).
        .macro  KLP_STUB name, op
        .globl  \name
        .type   \name, %function
        .p2align 02
\name:
        mov     x9, #\op
        b       klp_api
        .size   \name, . - \name
        .endm

        KLP_STUB klp_enable_patch, 1
        KLP_STUB  seq_printf, 4
        KLP_STUB seq_puts, 5
      
        KLP_STUB klp_shadow_get, 10
        KLP_STUB klp_shadow_alloc, 11
        KLP_STUB klp_shadow_get_or_alloc, 12
        KLP_STUB klp_shadow_free, 13
        KLP_STUB klp_shadow_free_all, 14
        KLP_STUB klp_get_state, 15
        KLP_STUB klp_get_prevz_state, 16
        KLP_STUB klp_warn_slowpath, 17
// current, /sys/kernel directories and files (sysfs_tree.h), sprintf.
        KLP_STUB get_current, 40
        KLP_STUB kobject_create_and_add, 41
        KLP_STUB kobject_put, 42
        KLP_STUB sysfs_create_file, 43
        KLP_STUB sysfs_emit, 44
        KLP_STUB sprintf, 44
// The calling task's __state (set_current_state) and its fake signal (signal_pending).
        KLP_STUB klpemu_set_task_state, 16
        KLP_STUB klpemu_signal_pending, 46

// The t (kernege a sysfs show() writes into.
        .section .symtab
klp_kernel_kobj_name:
        .asciz  "kernel"
        .data
        .p2align 3
klp_kernel_kobject:
        .quad   kpage
klp_sysfs_page:
        .space  0x1000

// The tiny allocator's arena (kzalloc, klp_shadow_alloc): the engine hands out blocks.
        .bss
        .p2align 4
        .globl  klp_heap, klp_heap_e00
klp_heap_end:
