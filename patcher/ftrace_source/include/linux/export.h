/*
 * klpemu's kernel-compatibility export.h: EXPORT_SYMBOL from assembly. klpemu's loader resolves
 * every global symbol for modules (there is no __ksymtab to fill), so an export only needs to
 * leave the symbol global, which its SYM_*_START already did.
 */
#ifndef KLPEMU_COMPAT_LINUX_EXPORT_H
#define KLPEMU_COMPAT_LINUX_EXPORT_H

#define EXPORT_SYMBOL(name)
#define EXPORT_SYMBOL_GPL(name)
#define EXPORT_SYMBOL_NS(name, ns)
#define EXPORT_SYMBOL_NS_GPL(name, ns)

#endif
