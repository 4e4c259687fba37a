// kernel_thread() of klpemu's mini kernel (kernel/fork.c in spirit), written for klpemu: the
// calling task forks a kthread named `name` that runs fn(arg) on the same CPU. copy_process is
// a host call of the scenario's kernel services (scenarios/kernel_services.h); the child is the
// caller's child, so during a livepatch transition it inherits the caller's patch_state and
// TIF_PATCH_PENDING (klp_copy_process). kthread_run's kthreads are kthreadd's children instead
// (workqueue.c).
#include <linux/kernel.h>
#include <linux/sched.h>

#define HC_KERNEL_THREAD 0x222 /* x0 = fn, x1 = arg, x2 = name -> pid, or -errno */

noinline pid_t kernel_thread(int (*fn)(void *), void *arg, const char *name, unsigned long flags)
{
	register long x0 __asm__("x0") = (long)fn;
	register long x1 __asm__("x1") = (long)arg;
	register long x2 __asm__("x2") = (long)name;
	(void)flags;
	__asm__ volatile("hvc %[nr]" : "+r"(x0) : "r"(x1), "r"(x2), [nr] "i"(HC_KERNEL_THREAD)
			 : "memory");
	return (pid_t)x0;
}
