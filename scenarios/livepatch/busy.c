// A busy kernel thread for the stalled-transition scenarios, written for klpemu: busy_work_func
// spins until busy_stop is set, so a task inside it is always running (or has busy_work_func on
// its stack) and the transition cannot switch it.
#include <linux/kernel.h>

volatile long busy_stop;

noinline long busy_work_func(long rounds)
{
	long n = 0;
	while (!READ_ONCE(busy_stop))
		n += rounds;
	return n;
}

long busy_thread(long rounds)
{
	return busy_work_func(rounds) + 1;
}
