/* klpemu guest kernel API: <linux/threads.h>. NR_CPUS is the most CPUs a klpemu machine has. */
#ifndef _KLPEMU_LINUX_THREADS_H
#define _KLPEMU_LINUX_THREADS_H

#define NR_CPUS 8

#endif
