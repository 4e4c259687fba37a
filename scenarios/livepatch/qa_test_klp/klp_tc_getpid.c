// qa_test_klp's generated getpid patch (klp_test_livepatch.c with sys_getpid in its function
// list), written for klpemu: an identity replacement of __arm64_sys_getpid, so hammering tasks
// see no difference while the transition runs. One source serves every test case; the module
// name (the scenario object's name, klp_tc_N_livepatch) tells the patches apart and `replace`
// makes it a replace-all patch (klp_create_patch_module -r).
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/sched.h>

static int replace;
module_param(replace, int, 0644);
MODULE_PARM_DESC(replace, "replace all earlier patches (0 or 1)");

struct pt_regs;

static long klp_tc_sys_getpid(const struct pt_regs *regs)
{
	return task_tgid_vnr(current);
}

static struct klp_func funcs[] = {
	{ .old_name = "__arm64_sys_getpid", .new_func = klp_tc_sys_getpid },
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
	patch.replace = replace;
	return klp_enable_patch(&patch);
}

static void klp_tc_exit(void)
{
}

module_init(klp_tc_init);
module_exit(klp_tc_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
