/* klpemu guest kernel API: <linux/slab.h>, a tiny host-backed allocator. */
#ifndef _KLPEMU_LINUX_SLAB_H
#define _KLPEMU_LINUX_SLAB_H

#include <linux/types.h>

#define GFP_KERNEL 0x0cc0u
#define GFP_ATOMIC 0x0820u
#define GFP_NOWAIT 0x0800u

void *kzalloc(size_t size, gfp_t flags);
void *kmalloc(size_t size, gfp_t flags);
void kfree(const void *p);

#endif
