/* Two ways to turn on a CALL_OPS call site from guest code: the kernel's order (the ops
 * literal first, then the BL) and the wrong one (the BL first, while the literal still holds
 * ftrace_nop_ops). Built with -fpatchable-function-entry=4,2: the literal is the 8 bytes in
 * front of the function, the BL slot is the function's second word. */
extern int aarch64_insn_patch_text_nosync(void* addr, unsigned int insn);
extern int aarch64_insn_write_literal_u64(void* addr, unsigned long val);
extern char ftrace_caller[];
extern char ftrace_list_ops[];

__attribute__((noinline)) long traced_bad(long x) {
    return x + 1;
}
__attribute__((noinline)) long traced_good(long x) {
    return x + 2;
}

static unsigned int bl(unsigned long from, unsigned long to) {
    return 0x94000000u | (unsigned int)(((to - from) >> 2) & 0x3ffffff);
}

long enable_wrong_order(void) {
    const unsigned long site = (unsigned long)traced_bad + 4;
    return aarch64_insn_patch_text_nosync((void*)site, bl(site, (unsigned long)ftrace_caller));
}

long enable_right_order(void) {
    const unsigned long site = (unsigned long)traced_good + 4;
    const long err = aarch64_insn_write_literal_u64((void*)((unsigned long)traced_good - 8),
                                                    (unsigned long)ftrace_list_ops);
    if (err) {
        return err;
    }
    return aarch64_insn_patch_text_nosync((void*)site, bl(site, (unsigned long)ftrace_caller));
}
