/* klpemu guest kernel API: <linux/delay.h>. msleep() sleeps in simulated time (see
 * docs/livepatch.md, "Time"). */
#ifndef _KLPEMU_LINUX_DELAY_H
#define _KLPEMU_LINUX_DELAY_H

void msleep(unsigned int msecs);

#endif
