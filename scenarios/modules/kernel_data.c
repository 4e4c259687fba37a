/*
 * Kernel data that modules read and write by name. Modules are compiled -fno-PIE as kbuild
 * compiles them, so `counter` is reached with ADRP/LDR (R_AARCH64_ADR_PREL_PG_HI21 and
 * LDST64_ABS_LO12_NC), never through a GOT the kernel's module loader does not build.
 */
unsigned long counter = 40;

unsigned long read_counter(void) { return counter; }
