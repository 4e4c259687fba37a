/* klpemu guest kernel API: compiler attributes. */
#ifndef _KLPEMU_LINUX_COMPILER_H
#define _KLPEMU_LINUX_COMPILER_H

#define __init __attribute__((__section__(".init.text")))
#define __exit
#define __initdata
#define __used __attribute__((__used__))
#define __always_inline inline __attribute__((__always_inline__))
#define noinline __attribute__((__noinline__))
#define notrace __attribute__((__no_instrument_function__, __patchable_function_entry__(0, 0)))
#define __printf(a, b) __attribute__((__format__(printf, a, b)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" : : : "memory")
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
