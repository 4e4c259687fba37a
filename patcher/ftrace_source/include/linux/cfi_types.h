/*
 * klpemu's kernel-compatibility cfi_types.h (include/linux/cfi_types.h, v6.1+). With
 * CONFIG_CFI_CLANG a typed function carries a type hash before its entry for indirect-call
 * checks; klpemu's eras build without CFI_CLANG (arm64 CALL_OPS needs !CFI_CLANG), so a typed
 * start is a plain SYM_FUNC_START, as in such a kernel.
 */
#ifndef KLPEMU_COMPAT_LINUX_CFI_TYPES_H
#define KLPEMU_COMPAT_LINUX_CFI_TYPES_H

#include <linux/linkage.h>

#ifdef CONFIG_CFI_CLANG
#error "klpemu: CONFIG_CFI_CLANG (kCFI type hashes before functions) is not modelled"
#endif

#define SYM_TYPED_FUNC_START(name) SYM_FUNC_START(name)
#define SYM_TYPED_START(name, linkage, align) SYM_START(name, linkage, align)

#endif
