/* klpemu guest kernel API: <linux/delay.h>. msleep() yields in schedule() until at least that
 * much simulated time has passed (docs/livepatch.md, "Time"); implemented by the kselftest
 * kernel's workqueue.c. */
#ifndef _KLPEMU_LINUX_DELAY_H
#define _KLPEMU_LINUX_DELAY_H

void msleep(unsigned int msecs);

#endif
