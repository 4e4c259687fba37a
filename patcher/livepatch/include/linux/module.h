/* klpemu guest kernel API: <linux/module.h>. A module object (kind = "module" or "livepatch")
 * is compiled with -DMODULE -DKBUILD_MODNAME="name"; module_init/module_exit name the functions
 * `insmod`/`rmmod` run (the init_module/cleanup_module aliases the loader looks up), and
 * __this_module (THIS_MODULE) carries the name and the state the engine updates at each module
 * notifier step. The layout of struct module is klpemu's own (patcher/livepatch/klp_layout.h). */
#ifndef _KLPEMU_LINUX_MODULE_H
#define _KLPEMU_LINUX_MODULE_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/printk.h>
#include <linux/workqueue.h>

#define MODULE_NAME_LEN 56

enum module_state {
	MODULE_STATE_LIVE,      /* Normal state. */
	MODULE_STATE_COMING,    /* Full formed, running module_init. */
	MODULE_STATE_GOING,     /* Going away. */
	MODULE_STATE_UNFORMED,  /* Still setting it up. */
};

struct module {
	enum module_state state;
	int __pad;
	char name[MODULE_NAME_LEN];
	int (*init)(void);
	void (*exit)(void);
};

#ifdef MODULE
extern struct module __this_module;
#define THIS_MODULE (&__this_module)
#ifndef KBUILD_MODNAME
#error "klpemu: module objects are compiled with -DKBUILD_MODNAME"
#endif
struct module __this_module __attribute__((__weak__)) = {
	.state = MODULE_STATE_UNFORMED,
	.name = KBUILD_MODNAME,
};
#define module_init(fn)                                                 \
	int init_module(void) __attribute__((__alias__(#fn)));          \
	static int (*__klpemu_initcall_check)(void) __used = fn
#define module_exit(fn)                                                 \
	void cleanup_module(void) __attribute__((__alias__(#fn)));      \
	static void (*__klpemu_exitcall_check)(void) __used = fn
#else
#define THIS_MODULE ((struct module *)0)
#define module_init(fn)
#define module_exit(fn)
#endif

#define __KLPEMU_CAT2(a, b) a##b
#define __KLPEMU_CAT(a, b) __KLPEMU_CAT2(a, b)
#define MODULE_INFO(tag, info)                                          \
	static const char __KLPEMU_CAT(__UNIQUE_ID_, __COUNTER__)[]     \
		__used __attribute__((__section__(".modinfo"))) = #tag "=" info
#define MODULE_LICENSE(l) MODULE_INFO(license, l)
#define MODULE_AUTHOR(a) MODULE_INFO(author, a)
#define MODULE_DESCRIPTION(d) MODULE_INFO(description, d)
#define MODULE_VERSION(v) MODULE_INFO(version, v)
#define MODULE_ALIAS(a) MODULE_INFO(alias, a)
#define MODULE_PARM_DESC(p, d) MODULE_INFO(parm, #p ":" d)

/* module_param(name, type, perm): `insmod NAME name=value` writes the variable before init.
 * The engine finds it through the `__param_<name>` record (klp_layout.h). */
struct kernel_param {
	const char *name;
	void *arg;
	int type; /* 0 int/uint/long/ulong/bool (8-byte store of the width below), 1 charp */
	int size;
};
#define __KLPEMU_PARAM_bool 0, 1
#define __KLPEMU_PARAM_int 0, 4
#define __KLPEMU_PARAM_uint 0, 4
#define __KLPEMU_PARAM_long 0, 8
#define __KLPEMU_PARAM_ulong 0, 8
#define __KLPEMU_PARAM_charp 1, 8
#define __KLPEMU_PARAM_TS(t) __KLPEMU_PARAM_##t
#define __KLPEMU_PARAM_REC(n, ts) { #n, &n, ts }
#define module_param(n, t, perm)                                        \
	static const struct kernel_param __param_##n __used             \
		__attribute__((__section__("__param"))) =               \
			__KLPEMU_PARAM_REC(n, __KLPEMU_PARAM_TS(t))

int try_module_get(struct module *m);
void module_put(struct module *m);

#endif
