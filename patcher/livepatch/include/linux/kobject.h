/* klpemu guest kernel API: <linux/kobject.h>, a directory under /sys/kernel with attribute
 * files (kobject_create_and_add, sysfs_create_file, kobject_put). The engine keeps the
 * directory tree; `cat /sys/kernel/DIR/FILE` calls the attribute's show() with a page buffer. */
#ifndef _KLPEMU_LINUX_KOBJECT_H
#define _KLPEMU_LINUX_KOBJECT_H

#include <linux/types.h>
#include <linux/sysfs.h>

struct kobject {
	const char *name;
	struct kobject *parent;
};

/* /sys/kernel. */
extern struct kobject *kernel_kobj;

struct kobj_attribute {
	struct attribute attr;
	ssize_t (*show)(struct kobject *kobj, struct kobj_attribute *attr, char *buf);
	ssize_t (*store)(struct kobject *kobj, struct kobj_attribute *attr, const char *buf,
			 size_t count);
};

struct kobject *kobject_create_and_add(const char *name, struct kobject *parent);
void kobject_put(struct kobject *kobj);

#endif
