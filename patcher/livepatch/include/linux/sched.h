/* klpemu guest kernel API: <linux/sched.h>, the parts simple modules touch. */
#ifndef _KLPEMU_LINUX_SCHED_H
#define _KLPEMU_LINUX_SCHED_H

#include <linux/types.h>
#include <asm/current.h>

void schedule(void);
#define cond_resched() schedule()

/* Forks the calling task into a kthread running fn(arg) (klpemu's mini kernel, fork.c). */
pid_t kernel_thread(int (*fn)(void *), void *arg, const char *name, unsigned long flags);

static inline pid_t task_pid_nr(struct task_struct *t) { return t->pid; }
static inline pid_t task_tgid_vnr(struct task_struct *t) { return t->tgid; }

#endif
