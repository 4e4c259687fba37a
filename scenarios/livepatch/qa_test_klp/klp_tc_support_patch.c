// qa_test_klp's generated patch of klp_test_support functions, written for klpemu: replaces
// orig_do_read_active_livepatch_id (the id then reads as `livepatch_id`, the test case number)
// and orig_sleep_uninterruptible_set (same behaviour, new code). A scenario's module is one of
// these under its test case's name, klp_tc_N_livepatch.
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

static int livepatch_id;
module_param(livepatch_id, int, 0644);
MODULE_PARM_DESC(livepatch_id, "the id orig_do_read_active_livepatch_id reports once patched");

long orig_do_sleep(long rounds);

static long klp_tc_do_read_active_livepatch_id(void)
{
	return livepatch_id;
}

static long klp_tc_sleep_uninterruptible_set(long rounds)
{
	return orig_do_sleep(rounds) + 1;
}

static struct klp_func funcs[] = {
	{ .old_name = "orig_do_read_active_livepatch_id",
	  .new_func = klp_tc_do_read_active_livepatch_id },
	{ .old_name = "orig_sleep_uninterruptible_set",
	  .new_func = klp_tc_sleep_uninterruptible_set },
	{}
};

static struct klp_object objs[] = {
	{ .name = NULL, .funcs = funcs },
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int klp_tc_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_tc_exit(void)
{
}

module_init(klp_tc_init);
module_exit(klp_tc_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
