/* klpemu guest kernel API: <linux/sysfs.h>, attribute files (see <linux/kobject.h>). */
#ifndef _KLPEMU_LINUX_SYSFS_H
#define _KLPEMU_LINUX_SYSFS_H

#include <linux/types.h>

struct kobject;

struct attribute {
	const char *name;
	unsigned short mode;
};

#define __ATTR(_name, _mode, _show, _store)                                   \
	{ .attr = { .name = #_name, .mode = _mode }, .show = _show, .store = _store }
#define __ATTR_RO(_name) __ATTR(_name, 0444, _name##_show, NULL)

int sysfs_create_file(struct kobject *kobj, const struct attribute *attr);
/* Formats into a sysfs show() buffer (one page); returns the length. */
int sysfs_emit(char *buf, const char *fmt, ...);

#endif
