/* klpemu guest kernel API: <linux/sched.h>, the parts simple modules touch. */
#ifndef _KLPEMU_LINUX_SCHED_H
#define _KLPEMU_LINUX_SCHED_H

#include <linux/types.h>
#include <asm/current.h>

void schedule(void);
#define cond_resched() schedule()
/* Sleeps in the state the caller set until `timeout` jiffies pass or the task is woken; returns
 * the jiffies left (the bundled kernel's workqueue.c). MAX_SCHEDULE_TIMEOUT: no timer. */
#define MAX_SCHEDULE_TIMEOUT ((long)(~0UL >> 1))
signed long schedule_timeout(signed long timeout);

/* Forks the calling task into a kthread running fn(arg) (klpemu's mini kernel, fork.c). */
pid_t kernel_thread(int (*fn)(void *), void *arg, const char *name, unsigned long flags);

/* Task states (include/linux/sched.h). set_current_state records the caller's __state: then
 * schedule() blocks until the task is woken (schedule_timeout's sleep yields until its time), a
 * sleep with TASK_FREEZABLE passes __schedule's livepatch switch point (v6.16+), and a fake
 * signal wakes a TASK_INTERRUPTIBLE sleeper. signal_pending() answers for the calling task
 * (klp_send_signals' TIF_NOTIFY_SIGNAL). */
#define TASK_RUNNING 0x00000000
#define TASK_INTERRUPTIBLE 0x00000001
#define TASK_UNINTERRUPTIBLE 0x00000002
#define TASK_FREEZABLE 0x00002000
void klpemu_set_task_state(unsigned int state);
int klpemu_signal_pending(void);
#define set_current_state(s) klpemu_set_task_state(s)
#define __set_current_state(s) klpemu_set_task_state(s)
static inline int signal_pending(struct task_struct *p) { (void)p; return klpemu_signal_pending(); }

static inline pid_t task_pid_nr(struct task_struct *t) { return t->pid; }
static inline pid_t task_tgid_vnr(struct task_struct *t) { return t->tgid; }

#endif
