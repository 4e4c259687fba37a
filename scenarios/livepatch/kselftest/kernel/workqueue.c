// The workqueue, delayed work, completion and msleep of klpemu's mini kernel (kernel/workqueue.c,
// kernel/sched/completion.c, kernel/time/sleep_timeout.c in spirit), written for klpemu, for the
// selftest modules that queue work (test_klp_callbacks_busy).
//
// schedule_work queues the item on the local CPU as system_wq does, but each item gets a fresh
// kworker kthread (kthread creation is a host call of the scenario's kernel services,
// scenarios/kernel_services.h) instead of a pool worker, and the kthread exits after the work.
// A delayed item's kworker starts at once and yields until the item's timer expires, then runs
// it unless the item was cancelled (or cancelled and queued again: the kworker serves one
// queueing, numbered in work->data above the flag bits, and claims it in timer.flags).
// Timed sleeping is yielding: msleep, schedule_timeout and the waits call schedule() until
// their condition holds, so a task sleeping in msleep is switched out inside schedule() with its
// callers on its stack, as a kernel task in schedule_timeout is, whenever its CPU runs something
// else. (An untimed sleep, set_current_state() then schedule(), blocks until woken.)
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/workqueue.h>

#define HC_KTHREAD_RUN 0x220 /* x0 = fn(long), x1 = its argument -> task id */
#define HC_JIFFIES 0x221     /* -> jiffies (HZ per simulated second) */
#define HC_SLEEP_UNTIL 0x223 /* x0 = jiffies -> 1 while the caller's timed sleep goes on */
#define HZ 100

/* work_struct.data bits: queued and not started yet (WORK_STRUCT_PENDING), running. */
#define WORK_PENDING 1UL
#define WORK_RUNNING 2UL

static long kthread_run_on_this_cpu(long (*fn)(long), long arg)
{
	register long x0 __asm__("x0") = (long)fn;
	register long x1 __asm__("x1") = arg;
	__asm__ volatile("hvc %[nr]" : "+r"(x0) : "r"(x1), [nr] "i"(HC_KTHREAD_RUN) : "memory");
	return x0;
}

static unsigned long jiffies_now(void)
{
	register unsigned long x0 __asm__("x0");
	__asm__ volatile("hvc %[nr]" : "=r"(x0) : [nr] "i"(HC_JIFFIES) : "memory");
	return x0;
}

unsigned long msecs_to_jiffies(unsigned int m)
{
	return (m * HZ + 999) / 1000;
}

noinline void msleep(unsigned int msecs)
{
	const unsigned long end = jiffies_now() + msecs_to_jiffies(msecs) + 1;

	while ((long)(jiffies_now() - end) < 0)
		schedule();
}

static long sleep_until(unsigned long expire)
{
	register unsigned long x0 __asm__("x0") = expire;
	__asm__ volatile("hvc %[nr]" : "+r"(x0) : [nr] "i"(HC_SLEEP_UNTIL) : "memory");
	return x0;
}

/* The caller set its state (set_current_state); the sleep ends when `timeout` jiffies have
 * passed or a wake-up (a fake signal) comes first. Returns the jiffies left, as the kernel's:
 * MAX_SCHEDULE_TIMEOUT sleeps without a timer, a negative timeout is an error that does not
 * sleep, and with TASK_RUNNING schedule() is called once (a yield). */
noinline signed long schedule_timeout(signed long timeout)
{
	unsigned long expire;
	long left;

	if (timeout == MAX_SCHEDULE_TIMEOUT) {
		schedule();
		return timeout;
	}
	if (timeout < 0) {
		__set_current_state(TASK_RUNNING);
		return 0;
	}
	expire = jiffies_now() + timeout;
	sleep_until(expire); /* Arms the timer before the first schedule(): it yields. */
	do
		schedule();
	while (sleep_until(expire));
	left = (long)(expire - jiffies_now());
	return left > 0 ? left : 0;
}

void complete(struct completion *x)
{
	WRITE_ONCE(x->done, x->done + 1);
}

noinline void wait_for_completion(struct completion *x)
{
	while (!READ_ONCE(x->done))
		schedule();
	x->done--;
}

/* The kworker's body (process_one_work): run the item once, then exit. */
static long process_one_work(long arg)
{
	struct work_struct *work = (struct work_struct *)arg;

	WRITE_ONCE(work->data, WORK_RUNNING);
	work->func(work);
	WRITE_ONCE(work->data, 0);
	return 0;
}

bool schedule_work(struct work_struct *work)
{
	if (READ_ONCE(work->data) & WORK_PENDING)
		return false;
	WRITE_ONCE(work->data, READ_ONCE(work->data) | WORK_PENDING);
	if (kthread_run_on_this_cpu(process_one_work, (long)work) < 0) {
		WRITE_ONCE(work->data, 0);
		return false;
	}
	return true;
}

noinline void flush_work(struct work_struct *work)
{
	while (READ_ONCE(work->data) & (WORK_PENDING | WORK_RUNNING))
		schedule();
}

/* work_struct.data of a delayed item: the flag bits, then the number of its latest queueing. */
#define WORK_SEQ_SHIFT 2
#define WORK_FLAGS (WORK_PENDING | WORK_RUNNING)

/* The delayed item's kworker (delayed_work_timer_fn, then process_one_work). */
static long process_delayed_work(long arg)
{
	struct delayed_work *dwork = (struct delayed_work *)arg;
	struct work_struct *work = &dwork->work;
	const unsigned long seq = READ_ONCE(work->data) >> WORK_SEQ_SHIFT;

	if (READ_ONCE(dwork->timer.flags) == seq)
		return 0; /* Another kworker serves this queueing. */
	WRITE_ONCE(dwork->timer.flags, seq);
	for (;;) {
		const unsigned long data = READ_ONCE(work->data);

		if (!(data & WORK_PENDING) || (data >> WORK_SEQ_SHIFT) != seq)
			return 0; /* Cancelled. */
		if ((long)(jiffies_now() - READ_ONCE(dwork->timer.expires)) >= 0)
			break;
		schedule();
	}
	WRITE_ONCE(work->data, (seq << WORK_SEQ_SHIFT) | WORK_RUNNING);
	work->func(work);
	/* The function may have queued the item again: clear only RUNNING. */
	WRITE_ONCE(work->data, READ_ONCE(work->data) & ~WORK_RUNNING);
	return 0;
}

bool schedule_delayed_work(struct delayed_work *dwork, unsigned long delay)
{
	struct work_struct *work = &dwork->work;
	const unsigned long data = READ_ONCE(work->data);
	const unsigned long seq = (data >> WORK_SEQ_SHIFT) + 1;

	if (data & WORK_PENDING)
		return false;
	dwork->timer.expires = jiffies_now() + delay;
	WRITE_ONCE(work->data, (seq << WORK_SEQ_SHIFT) | (data & WORK_RUNNING) | WORK_PENDING);
	if (kthread_run_on_this_cpu(process_delayed_work, (long)dwork) < 0) {
		WRITE_ONCE(work->data, (seq << WORK_SEQ_SHIFT) | (data & WORK_RUNNING));
		return false;
	}
	return true;
}

/* Takes the item off its timer (its kworker then exits) and waits for a run in progress;
 * true if it was pending. */
bool cancel_delayed_work_sync(struct delayed_work *dwork)
{
	struct work_struct *work = &dwork->work;
	const bool pending = READ_ONCE(work->data) & WORK_PENDING;

	WRITE_ONCE(work->data, READ_ONCE(work->data) & ~WORK_PENDING);
	while (READ_ONCE(work->data) & WORK_RUNNING)
		schedule();
	return pending;
}
