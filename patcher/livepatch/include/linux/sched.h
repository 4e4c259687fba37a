/* klpemu guest kernel API: <linux/sched.h>, the parts simple modules touch. */
#ifndef _KLPEMU_LINUX_SCHED_H
#define _KLPEMU_LINUX_SCHED_H

#include <linux/types.h>

void schedule(void);
#define cond_resched() schedule()

#endif
