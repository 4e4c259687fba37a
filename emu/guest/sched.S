// The scheduler's guest half and the bottoms of every task stack. schedule() is a real function
// with a frame record, so a sleeping task's saved fp/pc point into it exactly as a blocked
// task's thread_saved_fp/pc point into __schedule; the context switch itself is a host call
// that saves and restores what cpu_switch_to does (x19-x28, fp, sp, lr, pc). ret_from_fork,
// the user syscall loop and cpu_idle are the frames every task starts in. Where a task's first
// x29 points is the era's task bottom (Machine::create_task, emu/kernel_era.h): the FINAL
// metadata record in its pt_regs (6.13+), a {0, 0} record there (5.14..6.12), or 0 (4.19..5.13).
// The machine puts the era's S_STACKFRAME and FRAME_RECORD_META before this file
// (era_guest_prelude).
//
// CFI (.eh_frame, read by the cfi unwinder policy): schedule and printk describe their frames;
// the three stack bottoms mark the return address undefined (`.cfi_undefined x30`), the DWARF
// way of saying "outermost frame", which the cfi policy accepts only where x29 is the task's
// FINAL record.

        .equ S_X0, 0
        .equ S_STACKFRAME_TYPE, S_STACKFRAME + 16
        .equ FRAME_META_TYPE_FINAL, 1
        .equ HC_SCHEDULE, 0x001
        .equ HC_TASK_EXIT, 0x002
        .equ HC_IDLE, 0x005
        .equ HC_RET_TO_USER, 0x006

        .text
        .globl  schedule
        .type   schedule, %function
        .p2align 2
schedule:
        .cfi_startproc
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        .cfi_offset x29, -16
        .cfi_offset x30, -8
        mov     x29, sp
        hvc     #HC_SCHEDULE
        ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_same_value x29
        .cfi_same_value x30
        ret
        .cfi_endproc
        .size   schedule, . - schedule

// A new kthread starts here (copy_thread: x19 = fn, x20.. = arguments).
        .globl  ret_from_fork
        .type   ret_from_fork, %function
        .p2align 2
ret_from_fork:
        .cfi_startproc
        .cfi_undefined x30
        mov     x0, x20
        mov     x1, x21
        mov     x2, x22
        mov     x3, x23
        mov     x4, x24
        mov     x5, x25
        mov     x6, x26
        mov     x7, x27
        blr     x19
        hvc     #HC_TASK_EXIT
1:      b       1b
        .cfi_endproc
        .size   ret_from_fork, . - ret_from_fork

// A user task: the kernel side of a syscall loop. Each round enters as from EL0 (kernel_entry
// writes the end of the chain into task_pt_regs: a FINAL record from 6.13, {0, 0} before), calls the syscall function (x19) with x20.. as
// arguments, stores its result in regs->x0 and passes ret_to_user, where the machine runs
// exit-to-user work. x28 counts the remaining syscalls.
        .globl  el0_svc_loop
        .type   el0_svc_loop, %function
        .p2align 2
el0_svc_loop:
        .cfi_startproc
        .cfi_undefined x30
        stp     xzr, xzr, [sp, #S_STACKFRAME]
        .if FRAME_RECORD_META
        mov     x9, #FRAME_META_TYPE_FINAL
        str     x9, [sp, #S_STACKFRAME_TYPE]
        .endif
        add     x29, sp, #S_STACKFRAME
        mov     x0, x20
        mov     x1, x21
        mov     x2, x22
        mov     x3, x23
        mov     x4, x24
        mov     x5, x25
        mov     x6, x26
        mov     x7, x27
        blr     x19
        str     x0, [sp, #S_X0]
        .globl  ret_to_user
ret_to_user:
        hvc     #HC_RET_TO_USER
        subs    x28, x28, #1
        b.ne    el0_svc_loop
        hvc     #HC_TASK_EXIT
1:      b       1b
        .cfi_endproc
        .size   el0_svc_loop, . - el0_svc_loop

// The idle task of each CPU: run anything runnable, else wait for an interrupt.
        .globl  cpu_idle
        .type   cpu_idle, %function
        .p2align 2
cpu_idle:
        .cfi_startproc
        .cfi_undefined x30
        bl      schedule
        hvc     #HC_IDLE
        b       cpu_idle
        .cfi_endproc
        .size   cpu_idle, . - cpu_idle

// printk(fmt, ...): log a line through the host.
        .globl  printk
        .type   printk, %function
        .p2align 2
printk:
        .cfi_startproc
        hvc     #0x003
        ret
        .cfi_endproc
        .size   printk, . - printk
