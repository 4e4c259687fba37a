// test_klp_callbacks_busy, written for klpemu after the selftests' module of that name: a target
// module whose init queues busymod_work_func on the system workqueue and waits until it has
// started. With block_transition=Y the work sleeps (msleep) inside busymod_work_func until the
// module's exit clears the flag, so a livepatch of busymod_work_func cannot switch the kworker:
// the transition stalls. With block_transition=N init also waits for the work to finish.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/workqueue.h>
#include <linux/delay.h>
#include <linux/completion.h>

static bool block_transition;
module_param(block_transition, bool, 0644);
MODULE_PARM_DESC(block_transition, "block_transition (default=false)");

static void busymod_work_func(struct work_struct *work);
static DECLARE_WORK(work, busymod_work_func);
static DECLARE_COMPLETION(busymod_work_started);

static void busymod_work_func(struct work_struct *work)
{
	pr_info("%s enter\n", __func__);
	complete(&busymod_work_started);

	while (READ_ONCE(block_transition))
		msleep(20);

	pr_info("%s exit\n", __func__);
}

static int test_klp_callbacks_busy_init(void)
{
	pr_info("%s\n", __func__);
	schedule_work(&work);

	/* The work must be inside busymod_work_func before the livepatch is loaded. */
	wait_for_completion(&busymod_work_started);

	if (!block_transition)
		flush_work(&work);

	return 0;
}

static void test_klp_callbacks_busy_exit(void)
{
	WRITE_ONCE(block_transition, false);
	flush_work(&work);
	pr_info("%s\n", __func__);
}

module_init(test_klp_callbacks_busy_init);
module_exit(test_klp_callbacks_busy_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("klpemu: target module whose work can block a livepatch transition");
