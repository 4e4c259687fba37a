/* klpemu guest kernel API: <linux/mutex.h>. A sleeping lock as modules use it: the owner word
 * is taken with an acquire exchange; a task that finds it taken calls schedule() and tries
 * again (the kernel would sleep on the wait list until the owner's unlock wakes it). */
#ifndef _KLPEMU_LINUX_MUTEX_H
#define _KLPEMU_LINUX_MUTEX_H

#include <linux/types.h>
#include <linux/sched.h>

struct mutex {
	unsigned long owner;
};

#define DEFINE_MUTEX(name) struct mutex name = { 0 }

static inline void mutex_init(struct mutex *lock)
{
	__atomic_store_n(&lock->owner, 0, __ATOMIC_RELAXED);
}

/* An acquire exchange with LDAXR/STXR, as arm64's LL/SC atomics do it (written out because
 * the compiler would otherwise call libgcc's outline atomics, which a kernel does not have). */
static inline unsigned long __mutex_xchg_acquire(unsigned long *p, unsigned long v)
{
	unsigned long old, fail;

	asm volatile("1:	ldaxr	%0, [%2]\n"
		     "	stxr	%w1, %3, [%2]\n"
		     "	cbnz	%w1, 1b\n"
		     : "=&r"(old), "=&r"(fail)
		     : "r"(p), "r"(v)
		     : "memory");
	return old;
}

static inline void mutex_lock(struct mutex *lock)
{
	while (__mutex_xchg_acquire(&lock->owner, 1))
		schedule();
}

static inline void mutex_unlock(struct mutex *lock)
{
	__atomic_store_n(&lock->owner, 0, __ATOMIC_RELEASE);
}

#endif
