// Exception entry and return for IRQs, as arch/arm64/kernel/entry.S does it in the run's kernel
// era. Unicorn never enters guest vectors, so the machine does the hardware part at an
// instruction boundary (ELR_EL1 = pc, SPSR_EL1 = pstate, IRQs masked, PC = el1_irq) and this
// code does the rest: kernel_entry builds pt_regs below the interrupted SP with the era's frame
// record, el1_interrupt calls the IRQ host call and preempts through schedule() when asked, and
// kernel_exit restores every register and returns with a real ERET.
//
// The machine puts the era's constants before this file (emu/kernel_era.h, era_guest_prelude):
// PT_REGS_SIZE, S_STACKFRAME, and FRAME_RECORD_META, which picks the record:
// - 6.13+ (c2c6b27b5aa1): a {0, 0, PT_REGS} metadata record, an explicit exception boundary;
// - up to 6.12, from EL1: {x29, ELR}, which chains the handler's frames straight into the
//   interrupted function's, so a frame-pointer walk goes on through the exception as if the
//   interrupted pc were a return address (the stack the seeds' unwinders walked).
//
//   6.17 (336 bytes)                             4.19..5.5 (320); 5.10..6.12 (336)
//   sp+336  +-------------------------+           sp+S  +-------------------------+
//   sp+312  | stackframe.type = 2     |                 | (5.10+: lockdep, rcu)   |
//   sp+296  | stackframe {0, 0}       | <- x29    sp+304 | stackframe {x29, ELR}   | <- x29
//   sp+264  | pstate (SPSR_EL1)       |           sp+264 | pstate                  |
//   sp+256  | pc (ELR_EL1)            |           sp+256 | pc                      |
//   sp+248  | sp (original)           |           sp+248 | sp                      |
//   sp+240  | lr (x30)                |           sp+240 | lr                      |
//   sp+0    | x0 .. x29               |           sp+0   | x0 .. x29               |
//   sp      +-------------------------+  struct pt_regs

        .equ S_LR, 240
        .equ S_PC, 256
        .equ S_STACKFRAME_TYPE, S_STACKFRAME + 16
        .equ FRAME_META_TYPE_PT_REGS, 2
        .equ HC_IRQ, 0x004

        .text
        .globl  el1_irq
        .type   el1_irq, %function
        .p2align 2
el1_irq:
        sub     sp, sp, #PT_REGS_SIZE
        stp     x0, x1, [sp, #16 * 0]
        stp     x2, x3, [sp, #16 * 1]
        stp     x4, x5, [sp, #16 * 2]
        stp     x6, x7, [sp, #16 * 3]
        stp     x8, x9, [sp, #16 * 4]
        stp     x10, x11, [sp, #16 * 5]
        stp     x12, x13, [sp, #16 * 6]
        stp     x14, x15, [sp, #16 * 7]
        stp     x16, x17, [sp, #16 * 8]
        stp     x18, x19, [sp, #16 * 9]
        stp     x20, x21, [sp, #16 * 10]
        stp     x22, x23, [sp, #16 * 11]
        stp     x24, x25, [sp, #16 * 12]
        stp     x26, x27, [sp, #16 * 13]
        stp     x28, x29, [sp, #16 * 14]
        add     x21, sp, #PT_REGS_SIZE
        mrs     x22, elr_el1
        mrs     x23, spsr_el1
        stp     x30, x21, [sp, #S_LR]
        stp     x22, x23, [sp, #S_PC]
        .if FRAME_RECORD_META
        stp     xzr, xzr, [sp, #S_STACKFRAME]
        mov     x0, #FRAME_META_TYPE_PT_REGS
        str     x0, [sp, #S_STACKFRAME_TYPE]
        .else
        stp     x29, x22, [sp, #S_STACKFRAME]
        .endif
        add     x29, sp, #S_STACKFRAME
        mov     x0, sp
        bl      el1_interrupt
        .globl  kernel_exit
kernel_exit:
        ldp     x22, x23, [sp, #S_PC]
        msr     elr_el1, x22
        msr     spsr_el1, x23
        ldp     x0, x1, [sp, #16 * 0]
        ldp     x2, x3, [sp, #16 * 1]
        ldp     x4, x5, [sp, #16 * 2]
        ldp     x6, x7, [sp, #16 * 3]
        ldp     x8, x9, [sp, #16 * 4]
        ldp     x10, x11, [sp, #16 * 5]
        ldp     x12, x13, [sp, #16 * 6]
        ldp     x14, x15, [sp, #16 * 7]
        ldp     x16, x17, [sp, #16 * 8]
        ldp     x18, x19, [sp, #16 * 9]
        ldp     x20, x21, [sp, #16 * 10]
        ldp     x22, x23, [sp, #16 * 11]
        ldp     x24, x25, [sp, #16 * 12]
        ldp     x26, x27, [sp, #16 * 13]
        ldp     x28, x29, [sp, #16 * 14]
        ldr     x30, [sp, #S_LR]
        add     sp, sp, #PT_REGS_SIZE
        .globl  el1_eret
el1_eret:
        eret
        .size   el1_irq, . - el1_irq

// el1_interrupt(regs): the C-level IRQ handler with a real frame record. The host call handles
// the interrupt and returns need_resched in x0; preemption calls schedule() like
// preempt_schedule_irq().
        .globl  el1_interrupt
        .type   el1_interrupt, %function
        .p2align 2
el1_interrupt:
        .cfi_startproc
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        .cfi_offset x29, -16
        .cfi_offset x30, -8
        mov     x29, sp
        hvc     #HC_IRQ
        cbz     x0, 1f
        bl      schedule
1:      ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_same_value x29
        .cfi_same_value x30
        ret
        .cfi_endproc
        .size   el1_interrupt, . - el1_interrupt
