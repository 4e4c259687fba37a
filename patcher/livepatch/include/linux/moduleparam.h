/* klpemu guest kernel API: <linux/moduleparam.h>. module_param is in <linux/module.h>;
 * module_param_array(name, type, nump, perm) lets `insmod NAME name=v1,v2,...` fill the array
 * (at most its size) and store the count in *nump, as the kernel's param_array_set does. The
 * engine finds the `__param_<name>` record (type 2) and its struct kparam_array
 * (klp_layout.h). */
#ifndef _KLPEMU_LINUX_MODULEPARAM_H
#define _KLPEMU_LINUX_MODULEPARAM_H

#include <linux/module.h>

struct kparam_array {
	unsigned int max;
	unsigned int elemsize;
	unsigned int *num;
	void *elem;
};

#define module_param_array(n, t, nump, perm)                                        \
	static struct kparam_array __param_arr_##n = {                              \
		sizeof(n) / sizeof((n)[0]), sizeof((n)[0]), (unsigned int *)(nump), n   \
	};                                                                          \
	static const struct kernel_param __param_##n __used                         \
		__attribute__((__section__("__param"))) = { #n, &__param_arr_##n, 2,    \
							    sizeof((n)[0]) }

#endif
