/* Guest code for the concurrent-modification scenarios: a writer that patches live text the way
 * arm64 Linux does (aarch64_insn_patch_text_nosync and aarch64_insn_write_literal_u64, the
 * machine's emu/guest/text_poke.S: a store through the FIX_TEXT_POKE0 alias, then
 * DC CVAU; DSB ISH; IC IVAU; DSB ISH; ISB on the writing CPU), and readers that run what it
 * patches. `victim` and `victim_new` are the scenario's own assembly. */
extern int aarch64_insn_patch_text_nosync(void* addr, unsigned int insn);
extern int aarch64_insn_write_literal_u64(void* addr, unsigned long val);
extern long victim(void);
extern char victim_new[];

static unsigned int branch(unsigned int opcode, unsigned long from, unsigned long to) {
    return opcode | (unsigned int)(((to - from) >> 2) & 0x3ffffff);
}

/* Calls victim() with an ISB after each call, and some work after the ISB, until it returns 2
 * (the patched word ran): 1 if it did within `max` calls, else 0. */
long reader(long max) {
    for (long calls = 0; calls < max; calls++) {
        if (victim() == 2) {
            return 1;
        }
        __asm__ volatile("isb" ::: "memory");
        for (volatile int work = 0; work < 40; work++) {
        }
    }
    return 0;
}

/* Spins `delay` rounds, then turns victim's first word (a NOP) into `b victim_new`. */
long writer(long delay) {
    for (volatile long i = 0; i < delay; i++) {
    }
    const unsigned long site = (unsigned long)victim;
    return aarch64_insn_patch_text_nosync((void*)site,
                                          branch(0x14000000u, site, (unsigned long)victim_new));
}
