// test-syscall.sh's livepatch, written for klpemu: replaces the getpid syscall
// (__arm64_sys_getpid on arm64, whose syscall wrappers carry the arch prefix) while user tasks
// call it in a loop. The pids of those tasks come in the `klp_pids` array; the new getpid
// crosses each calling pid off the list, so /sys/kernel/test_klp_syscall/npids counts the
// tasks that have not yet run the new code. It reaches 0 only if every hammering task switched
// to the patched state (at its return to user) and called getpid again. Prints nothing itself.
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/sched.h>
#include <linux/mutex.h>
#include <linux/kobject.h>
#include <linux/threads.h>

#if defined(__aarch64__)
#define SYSCALL_PREFIX "__arm64_"
#else
#define SYSCALL_PREFIX ""
#endif

static int klp_pids[NR_CPUS];
static int npids_pending; /* set by insmod: how many pids klp_pids holds */
static int npids;         /* the count at load time */
static DEFINE_MUTEX(kpid_mutex);
static struct kobject *klp_kobj;

module_param_array(klp_pids, int, &npids_pending, 0);
MODULE_PARM_DESC(klp_pids, "Array of pids to be transitioned to livepatched state.");

static ssize_t npids_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", npids_pending);
}

static struct kobj_attribute klp_attr = __ATTR_RO(npids);

struct pt_regs;

static long lp_sys_getpid(const struct pt_regs *regs)
{
	int i;

	mutex_lock(&kpid_mutex);
	for (i = 0; npids_pending > 0 && i < npids; i++) {
		if (klp_pids[i] == current->pid) {
			klp_pids[i] = 0;
			npids_pending--;
			break;
		}
	}
	mutex_unlock(&kpid_mutex);
	return task_tgid_vnr(current);
}

static struct klp_func vmlinux_funcs[] = {
	{ .old_name = SYSCALL_PREFIX "sys_getpid", .new_func = lp_sys_getpid },
	{}
};

static struct klp_object objs[] = {
	{ .name = NULL, /* vmlinux */ .funcs = vmlinux_funcs },
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int test_klp_syscall_init(void)
{
	int ret;

	klp_kobj = kobject_create_and_add("test_klp_syscall", kernel_kobj);
	if (!klp_kobj)
		return -ENOMEM;
	ret = sysfs_create_file(klp_kobj, &klp_attr.attr);
	if (ret) {
		kobject_put(klp_kobj);
		return ret;
	}
	npids = npids_pending;
	ret = klp_enable_patch(&patch);
	if (ret)
		kobject_put(klp_kobj);
	return ret;
}

static void test_klp_syscall_exit(void)
{
	kobject_put(klp_kobj);
}

module_init(test_klp_syscall_init);
module_exit(test_klp_syscall_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch test: syscall transition (klpemu's own)");
