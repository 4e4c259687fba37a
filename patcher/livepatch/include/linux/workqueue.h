/* klpemu guest kernel API: <linux/workqueue.h>. schedule_work, flush_work and msecs_to_jiffies
 * are implemented by the kselftest kernel's workqueue.c (scenarios/livepatch/kselftest/kernel/):
 * each queued work item runs on a fresh kworker kthread of the queueing CPU. Delayed work is
 * declared only (not implemented yet). */
#ifndef _KLPEMU_LINUX_WORKQUEUE_H
#define _KLPEMU_LINUX_WORKQUEUE_H

#include <linux/types.h>

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	unsigned long data;
	struct list_head entry;
	work_func_t func;
};

struct delayed_work {
	struct work_struct work;
	unsigned long delay;
};

#define INIT_WORK(w, f) do { (w)->data = 0; (w)->func = (f); } while (0)
#define INIT_DELAYED_WORK(w, f) INIT_WORK(&(w)->work, (f))
#define DECLARE_WORK(n, f) struct work_struct n = { .func = (f) }
#define DECLARE_DELAYED_WORK(n, f) struct delayed_work n = { .work = { .func = (f) } }

bool schedule_work(struct work_struct *work);
bool schedule_delayed_work(struct delayed_work *dwork, unsigned long delay);
bool cancel_work_sync(struct work_struct *work);
bool cancel_delayed_work_sync(struct delayed_work *dwork);
void flush_work(struct work_struct *work);
unsigned long msecs_to_jiffies(unsigned int m);

#endif
