/* klpemu guest kernel API: basic types (our own minimal <linux/types.h>). */
#ifndef _KLPEMU_LINUX_TYPES_H
#define _KLPEMU_LINUX_TYPES_H

typedef unsigned long size_t;
typedef long ssize_t;
typedef _Bool bool;
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef unsigned int gfp_t;

#define true 1
#define false 0
#define NULL ((void *)0)

struct list_head {
	struct list_head *next, *prev;
};

#endif
