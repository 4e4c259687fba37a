// How arm64 Linux writes its own text (arch/arm64/kernel/patching.c, mm/cache.S), for guest
// code: text is r-x through its own mapping, so the write goes through the FIX_TEXT_POKE0 fixmap
// slot (emu/text_poke_alias.h), then the writing CPU cleans the line to the point of
// unification and invalidates it from every instruction cache (caches_clean_inval_pou). Only
// the writer synchronises: other CPUs may run the old word until their next ISB or exception.
// Our own words; the order of operations and the barriers are the kernel's.
//
//   void *patch_map(void *addr)               alias of addr (set_fixmap_offset)
//   void  patch_unmap(void)                   clear_fixmap
//   int   aarch64_insn_patch_text_nosync(void *addr, u32 insn)   0, or -EINVAL if misaligned
//   int   aarch64_insn_write_literal_u64(void *addr, u64 val)    0, or -EINVAL if misaligned
//
// patch_lock and the IRQ masking around the fixmap are not modelled (one slot per machine:
// two CPUs patching at once would share it).

        .equ HC_PATCH_MAP, 0x007
        .equ HC_PATCH_UNMAP, 0x008
        .equ EINVAL, 22

        .text
        .globl  patch_map
        .type   patch_map, %function
        .p2align 2
patch_map:
        .cfi_startproc
        hvc     #HC_PATCH_MAP
        ret
        .cfi_endproc
        .size   patch_map, . - patch_map

        .globl  patch_unmap
        .type   patch_unmap, %function
        .p2align 2
patch_unmap:
        .cfi_startproc
        hvc     #HC_PATCH_UNMAP
        ret
        .cfi_endproc
        .size   patch_unmap, . - patch_unmap

        .globl  aarch64_insn_patch_text_nosync
        .type   aarch64_insn_patch_text_nosync, %function
        .p2align 2
aarch64_insn_patch_text_nosync:
        .cfi_startproc
        tst     x0, #3
        b.ne    1f
        mov     x2, x0                  // the text address, for the cache maintenance
        hvc     #HC_PATCH_MAP           // x0 = its alias in the FIX_TEXT_POKE0 slot
        str     w1, [x0]                // the one 32-bit write
        hvc     #HC_PATCH_UNMAP
        dc      cvau, x2                // clean the line to the point of unification
        dsb     ish
        ic      ivau, x2                // invalidate it from every instruction cache
        dsb     ish
        isb                             // this CPU fetches the new word from here on
        mov     x0, #0
        ret
1:      mov     x0, #-EINVAL
        ret
        .cfi_endproc
        .size   aarch64_insn_patch_text_nosync, . - aarch64_insn_patch_text_nosync

// The CALL_OPS literal: data, so one aligned 64-bit store and no cache maintenance.
        .globl  aarch64_insn_write_literal_u64
        .type   aarch64_insn_write_literal_u64, %function
        .p2align 2
aarch64_insn_write_literal_u64:
        .cfi_startproc
        tst     x0, #7
        b.ne    1f
        hvc     #HC_PATCH_MAP
        str     x1, [x0]
        hvc     #HC_PATCH_UNMAP
        mov     x0, #0
        ret
1:      mov     x0, #-EINVAL
        ret
        .cfi_endproc
        .size   aarch64_insn_write_literal_u64, . - aarch64_insn_write_literal_u64
