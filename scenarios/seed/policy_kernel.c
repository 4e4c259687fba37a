// The kernel side of seed/unwinder-policy-matters-*, written for klpemu. outer() is the
// function being patched: it has a frame record and calls leaf_helper (assembly, no frame), so
// while leaf_helper runs, the return address into outer lives only in x30 — Mark Rutland's
// window ("its caller is missing from the LR and existing chain of frame records"). spin_long is
// the other task's long busy stretch, during which the preempted worker stays off the CPU.
#include <linux/kernel.h>

long leaf_helper(long x);

noinline long outer(long x)
{
	long r = leaf_helper(x);
	return r + 1;
}

long do_work(long x)
{
	long a = outer(x);
	return a * 3;
}

volatile long spin_sink;

long spin_long(long n)
{
	for (long i = 0; i < n; i++)
		spin_sink = i;
	return n;
}

void schedule(void);

// The two kthreads of CPU 0: each does its work and calls schedule(), as a kernel thread loop
// calls cond_resched(), so each sleeps in schedule() while the other runs.
long worker_main(long x)
{
	for (;;) {
		do_work(x);
		schedule();
	}
	return 0;
}

// One long stretch first (the preempted worker stays off the CPU meanwhile), then short ones
// alternating with the worker.
long spinner_main(long n)
{
	spin_long(n);
	for (;;) {
		schedule();
		spin_long(8);
	}
	return 0;
}
