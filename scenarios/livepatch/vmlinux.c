// klpemu's mini kernel for livepatch scenarios: the few kernel functions the livepatch samples
// and selftests patch or call, written for klpemu. cmdline_proc_show is what `cat /proc/cmdline`
// runs (fs/proc/cmdline.c's show function); the rest are small helpers a patch can call.
#include <linux/kernel.h>
#include <linux/seq_file.h>

char saved_command_line[] = "console=ttyAMA0 root=/dev/vda rw klpemu";

int cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, saved_command_line);
	seq_putc(m, '\n');
	return 0;
}

noinline long kernel_add(long a, long b)
{
	return a + b;
}

int meminfo_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "MemTotal: %8lu kB\n", 65536UL);
	return 0;
}
