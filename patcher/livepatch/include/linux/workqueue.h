/* klpemu guest kernel API: <linux/workqueue.h>. The work and delayed-work functions are
 * implemented by klpemu's mini kernel (scenarios/livepatch/kselftest/kernel/workqueue.c, part of
 * the bundled vmlinux): each queued work item runs on a fresh kworker kthread of the queueing
 * CPU; a delayed item's kworker waits on the jiffies clock until its timer expires. */
#ifndef _KLPEMU_LINUX_WORKQUEUE_H
#define _KLPEMU_LINUX_WORKQUEUE_H

#include <linux/compiler.h>
#include <linux/types.h>

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	unsigned long data;
	struct list_head entry;
	work_func_t func;
};

/* The timer of a delayed work item: when it expires (jiffies), and which queueing of the
 * item its kworker serves (klpemu's kworkers are per item, see workqueue.c). */
struct timer_list {
	unsigned long expires;
	unsigned long flags;
};

struct delayed_work {
	struct work_struct work;
	struct timer_list timer;
	int cpu;
};

#define to_delayed_work(w) ((struct delayed_work *)((char *)(w) - __builtin_offsetof(struct delayed_work, work)))

/* WORK_STRUCT_PENDING: queued (or its timer running) and not started yet. */
#define work_pending(w) (READ_ONCE((w)->data) & 1UL)
#define delayed_work_pending(w) work_pending(&(w)->work)

#define INIT_WORK(w, f) do { (w)->data = 0; (w)->func = (f); } while (0)
#define INIT_DELAYED_WORK(w, f) do { INIT_WORK(&(w)->work, (f)); (w)->timer.flags = 0; } while (0)
#define DECLARE_WORK(n, f) struct work_struct n = { .func = (f) }
#define DECLARE_DELAYED_WORK(n, f) struct delayed_work n = { .work = { .func = (f) } }

bool schedule_work(struct work_struct *work);
bool schedule_delayed_work(struct delayed_work *dwork, unsigned long delay);
bool cancel_work_sync(struct work_struct *work);
bool cancel_delayed_work_sync(struct delayed_work *dwork);
void flush_work(struct work_struct *work);
unsigned long msecs_to_jiffies(unsigned int m);

#endif
