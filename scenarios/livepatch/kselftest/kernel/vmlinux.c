// klpemu's mini kernel for the livepatch selftest scenarios (scenarios/livepatch/kselftest/),
// written for klpemu: what tools/testing/selftests/livepatch/test_modules/ patch and call.
// cmdline_proc_show and meminfo_proc_show are fs/proc's show functions behind `cat
// /proc/cmdline` and `cat /proc/meminfo` (test_klp_livepatch and test_klp_atomic_replace patch
// them); printk, seq_file and the allocator are klpemu's guest API (patcher/livepatch/guest).
// Other kernel pieces a script needs live in their own files next to this one (workqueue.c).
#include <linux/kernel.h>
#include <linux/seq_file.h>

char saved_command_line[] = "console=ttyAMA0 root=/dev/vda rw klpemu";

noinline int cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, saved_command_line);
	seq_putc(m, '\n');
	return 0;
}

noinline int meminfo_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "MemTotal:       %8lu kB\n", 65536UL);
	seq_printf(m, "MemFree:        %8lu kB\n", 32768UL);
	return 0;
}
