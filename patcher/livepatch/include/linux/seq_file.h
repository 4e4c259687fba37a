/* klpemu guest kernel API: <linux/seq_file.h>. seq_printf/seq_puts are host calls that append
 * to the read in progress (`cat /proc/...`). */
#ifndef _KLPEMU_LINUX_SEQ_FILE_H
#define _KLPEMU_LINUX_SEQ_FILE_H

#include <linux/types.h>
#include <linux/compiler.h>

struct seq_file {
	char *buf;
	size_t size;
	size_t count;
	void *private;
};

__printf(2, 3) void seq_printf(struct seq_file *m, const char *fmt, ...);
void seq_puts(struct seq_file *m, const char *s);
void seq_putc(struct seq_file *m, char c);

#endif
