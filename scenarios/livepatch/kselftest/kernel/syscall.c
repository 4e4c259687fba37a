// The getpid (and read) system calls of klpemu's kselftest kernel, reached as on arm64: a user task's
// `svc #0` enters el0_svc, which looks the handler up in sys_call_table by number and calls it
// through invoke_syscall (arch/arm64/kernel/syscall.c); the handler is the syscall wrapper
// __arm64_sys_getpid (ARCH_HAS_SYSCALL_WRAPPER), the function test-syscall.sh's livepatch
// replaces. A scenario's user task runs `el0_svc` with the syscall number as its argument:
// klpemu's user task loop (el0_svc_loop) is the EL0 side, and each return to user is where a
// task with TIF_PATCH_PENDING switches.
#include <linux/kernel.h>
#include <linux/sched.h>

#ifndef ENOSYS
#define ENOSYS 38
#endif

#define __NR_read 63
#define __NR_rt_sigsuspend 133
#define ERESTARTNOHAND 514
#define __NR_getpid 172
#define __NR_syscalls 451

struct pt_regs;

typedef long (*syscall_fn_t)(const struct pt_regs *regs);

noinline long __arm64_sys_getpid(const struct pt_regs *regs)
{
	return task_tgid_vnr(current);
}

// read(2) of /dev/urandom as qa_test_klp's `cat /dev/urandom` load does it: busy kernel work
// (a xorshift stream standing in for get_random_bytes) that no livepatch touches.
noinline long __arm64_sys_read(const struct pt_regs *regs)
{
	static unsigned long state = 0x9e3779b97f4a7c15UL;
	unsigned long x = READ_ONCE(state);
	int i;

	for (i = 0; i < 64; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	WRITE_ONCE(state, x);
	return 512;
}

// rt_sigsuspend(2) without a mask: sleeps interruptibly until a signal is pending. A fake
// signal (klp_send_signals) ends the sleep; the syscall is restarted after exit to user, where
// a task with TIF_PATCH_PENDING switches.
noinline long __arm64_sys_rt_sigsuspend(const struct pt_regs *regs)
{
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (signal_pending(current))
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return -ERESTARTNOHAND;
}

static long sys_ni_syscall(const struct pt_regs *regs)
{
	return -ENOSYS;
}

static const syscall_fn_t sys_call_table[] = {
	[0 ... __NR_read - 1] = sys_ni_syscall,
	[__NR_read] = __arm64_sys_read,
	[__NR_read + 1 ... __NR_rt_sigsuspend - 1] = sys_ni_syscall,
	[__NR_rt_sigsuspend] = __arm64_sys_rt_sigsuspend,
	[__NR_rt_sigsuspend + 1 ... __NR_getpid - 1] = sys_ni_syscall,
	[__NR_getpid] = __arm64_sys_getpid,
};

noinline long invoke_syscall(const struct pt_regs *regs, unsigned long scno)
{
	if (scno >= sizeof(sys_call_table) / sizeof(sys_call_table[0]))
		return -ENOSYS;
	return sys_call_table[scno](regs);
}

long el0_svc(unsigned long scno)
{
	return invoke_syscall(NULL, scno);
}
