// A module exercising the shadow variable API, written for klpemu: a constructor and a
// destructor that the engine calls back into (klp_shadow_alloc / klp_shadow_free), get,
// get_or_alloc on an existing variable, a duplicate alloc, free_all.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/slab.h>

#define SV_COUNT 0x10
#define SV_NAME 0x11

struct thing {
	long value;
};

static struct thing things[2] = { { 7 }, { 9 } };

static int count_ctor(void *obj, void *shadow_data, void *ctor_data)
{
	long *count = shadow_data;
	*count = *(long *)ctor_data;
	pr_info("count_ctor: thing %ld gets %ld\n", ((struct thing *)obj)->value, *count);
	return 0;
}

static void count_dtor(void *obj, void *shadow_data)
{
	pr_info("count_dtor: thing %ld had %ld\n", ((struct thing *)obj)->value,
		*(long *)shadow_data);
}

static int klp_shadow_demo_init(void)
{
	long start = 100;
	long *c0, *c1, *again;

	pr_info("get before alloc: %s\n", klp_shadow_get(&things[0], SV_COUNT) ? "found" : "NULL");
	c0 = klp_shadow_alloc(&things[0], SV_COUNT, sizeof(long), GFP_KERNEL, count_ctor, &start);
	start = 200;
	c1 = klp_shadow_get_or_alloc(&things[1], SV_COUNT, sizeof(long), GFP_KERNEL, count_ctor,
				     &start);
	if (!c0 || !c1)
		return -ENOMEM;
	*c0 += 1;
	pr_info("get: thing 7 -> %ld, thing 9 -> %ld\n",
		*(long *)klp_shadow_get(&things[0], SV_COUNT),
		*(long *)klp_shadow_get(&things[1], SV_COUNT));
	again = klp_shadow_get_or_alloc(&things[0], SV_COUNT, sizeof(long), GFP_KERNEL, count_ctor,
					&start);
	pr_info("get_or_alloc of an existing one returns it: %s\n", again == c0 ? "yes" : "no");
	pr_info("duplicate alloc: %s\n",
		klp_shadow_alloc(&things[0], SV_COUNT, sizeof(long), GFP_KERNEL, NULL, NULL) ?
			"allocated" : "NULL");
	klp_shadow_free(&things[0], SV_COUNT, count_dtor);
	pr_info("after free: %s\n", klp_shadow_get(&things[0], SV_COUNT) ? "found" : "NULL");
	klp_shadow_free_all(SV_COUNT, count_dtor);
	pr_info("after free_all: %s\n", klp_shadow_get(&things[1], SV_COUNT) ? "found" : "NULL");
	return 0;
}

static void klp_shadow_demo_exit(void)
{
}

module_init(klp_shadow_demo_init);
module_exit(klp_shadow_demo_exit);
MODULE_LICENSE("GPL");
