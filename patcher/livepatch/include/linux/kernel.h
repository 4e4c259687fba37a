/* klpemu guest kernel API: <linux/kernel.h> as far as simple modules use it. */
#ifndef _KLPEMU_LINUX_KERNEL_H
#define _KLPEMU_LINUX_KERNEL_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/printk.h>

void klp_warn_slowpath(const char *file, int line);
#define WARN_ON(cond)                                                   \
	({                                                              \
		int __ret_warn_on = !!(cond);                           \
		if (unlikely(__ret_warn_on))                            \
			klp_warn_slowpath(__FILE__, __LINE__);          \
		unlikely(__ret_warn_on);                                \
	})
#define WARN(cond, fmt, ...)                                            \
	({                                                              \
		int __ret_warn = !!(cond);                              \
		if (unlikely(__ret_warn))                               \
			printk(KERN_WARNING fmt, ##__VA_ARGS__);        \
		unlikely(__ret_warn);                                   \
	})
#define BUILD_BUG_ON(cond) _Static_assert(!(cond), "BUILD_BUG_ON")

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - __builtin_offsetof(type, member)))

int sprintf(char *buf, const char *fmt, ...);
int snprintf(char *buf, size_t size, const char *fmt, ...);
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

#endif
