/* klpemu guest kernel API: <linux/completion.h>. A waiter yields (schedule()) until the count is
 * positive; implemented by the guest kernel object that provides the workqueue
 * (scenarios/livepatch/kselftest/kernel/workqueue.c). */
#ifndef _KLPEMU_LINUX_COMPLETION_H
#define _KLPEMU_LINUX_COMPLETION_H

struct completion {
	unsigned int done;
};

#define COMPLETION_INITIALIZER(x) { .done = 0 }
#define DECLARE_COMPLETION(x) struct completion x = COMPLETION_INITIALIZER(x)

static inline void init_completion(struct completion *x)
{
	x->done = 0;
}

void complete(struct completion *x);
void wait_for_completion(struct completion *x);

#endif
