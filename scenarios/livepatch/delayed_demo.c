// A module with delayed work (livepatch/delayed-work): init queues one item for 100 ms and one
// for 2 s, and tries to queue the first again (refused: it is pending); exit cancels both with
// cancel_delayed_work_sync, which reports whether each was still pending.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/workqueue.h>

static struct delayed_work soon;
static struct delayed_work later;

static void soon_fn(struct work_struct *work)
{
	pr_info("the 100 ms work runs (pending %d)\n",
		(int)delayed_work_pending(to_delayed_work(work)));
}

static void later_fn(struct work_struct *work)
{
	pr_info("the 2 s work runs\n");
}

static int delayed_demo_init(void)
{
	bool again;

	INIT_DELAYED_WORK(&soon, soon_fn);
	INIT_DELAYED_WORK(&later, later_fn);
	schedule_delayed_work(&soon, msecs_to_jiffies(100));
	schedule_delayed_work(&later, msecs_to_jiffies(2000));
	again = schedule_delayed_work(&soon, 1);
	pr_info("queued; queueing the 100 ms work again: %d\n", (int)again);
	return 0;
}

static void delayed_demo_exit(void)
{
	bool soon_pending = cancel_delayed_work_sync(&soon);
	bool later_pending = cancel_delayed_work_sync(&later);

	pr_info("cancelled: 100 ms work pending %d, 2 s work pending %d\n", (int)soon_pending,
		(int)later_pending);
}

module_init(delayed_demo_init);
module_exit(delayed_demo_exit);
MODULE_LICENSE("GPL");
