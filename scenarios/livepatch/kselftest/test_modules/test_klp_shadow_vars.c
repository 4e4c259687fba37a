// test-shadow-vars.sh's module, written for klpemu: exercises the shadow variable API
// (kernel/livepatch/shadow.c) from module_init and logs every call. Pointers are logged as
// stable ids (PTR0 is NULL, then PTR1, PTR2, ... in order of first appearance), so the log is the
// same on every run and every kernel; that is the text the selftest compares.
//
// Each of three objects gets two shadow variables (ids 0x1234 and 0x1235) that point at a
// per-object variable; the constructor stores the pointer it is given, so a later get can check
// that the variable still points where it was constructed to.
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/slab.h>

#define OBJECTS 3
#define SV_FIRST 0x1234
#define SV_SECOND 0x1235
#define MAX_IDS 32

// ---- pointer ids ---------------------------------------------------------------------------

static const void *known_ptrs[MAX_IDS];
static int known_count;

// The id of `p`: the one it got when first seen, else the next free one.
static int ptr_id(const void *p)
{
	int i;

	for (i = 0; i < known_count; i++)
		if (known_ptrs[i] == p)
			return i;
	if (known_count == MAX_IDS)
		return -1;
	known_ptrs[known_count] = p;
	return known_count++;
}

// ---- constructor, destructor ---------------------------------------------------------------

static int shadow_ctor(void *obj, void *shadow_data, void *ctor_data)
{
	void **slot = shadow_data;
	int data_id, slot_id;

	if (!ctor_data)
		return -EINVAL;
	*slot = ctor_data;
	data_id = ptr_id(ctor_data);
	slot_id = ptr_id(slot);
	pr_info("shadow_ctor: PTR%d -> PTR%d\n", slot_id, data_id);
	return 0;
}

static void shadow_dtor(void *obj, void *shadow_data)
{
	int obj_id = ptr_id(obj);
	int data_id = ptr_id(shadow_data);

	pr_info("shadow_dtor(obj=PTR%d, shadow_data=PTR%d)\n", obj_id, data_id);
}

// ---- logged wrappers around the API --------------------------------------------------------

static void *logged_get(void *obj, unsigned long id)
{
	void *sv = klp_shadow_get(obj, id);
	int obj_id = ptr_id(obj);
	int sv_id = ptr_id(sv);

	pr_info("klp_shadow_get(obj=PTR%d, id=0x%lx) = PTR%d\n", obj_id, id, sv_id);
	return sv;
}

static void *logged_alloc(bool or_get, void *obj, unsigned long id, size_t size, gfp_t gfp,
			  klp_shadow_ctor_t ctor, void *ctor_data)
{
	void *sv = or_get ? klp_shadow_get_or_alloc(obj, id, size, gfp, ctor, ctor_data) :
			    klp_shadow_alloc(obj, id, size, gfp, ctor, ctor_data);
	int obj_id = ptr_id(obj);
	int ctor_id = ptr_id(ctor);
	int data_id = ptr_id(ctor_data);
	int sv_id = ptr_id(sv);

	pr_info("klp_shadow_%s(obj=PTR%d, id=0x%lx, size=%zx, gfp_flags=%pGg), ctor=PTR%d, ctor_data=PTR%d = PTR%d\n",
		or_get ? "get_or_alloc" : "alloc", obj_id, id, size, &gfp, ctor_id, data_id, sv_id);
	return sv;
}

static void logged_free(void *obj, unsigned long id, klp_shadow_dtor_t dtor)
{
	int obj_id, dtor_id;

	klp_shadow_free(obj, id, dtor);
	obj_id = ptr_id(obj);
	dtor_id = ptr_id(dtor);
	pr_info("klp_shadow_free(obj=PTR%d, id=0x%lx, dtor=PTR%d)\n", obj_id, id, dtor_id);
}

static void logged_free_all(unsigned long id, klp_shadow_dtor_t dtor)
{
	klp_shadow_free_all(id, dtor);
	pr_info("klp_shadow_free_all(id=0x%lx, dtor=PTR%d)\n", id, ptr_id(dtor));
}

// ---- checks --------------------------------------------------------------------------------

// A shadow variable `sv` must exist and point at `expected`.
static int expect_pointing(void **sv, void *expected)
{
	if (!sv || *sv != expected) {
		pr_err("  got unexpected PTR%d result\n", ptr_id(sv));
		return -EINVAL;
	}
	pr_info("  got expected PTR%d -> PTR%d result\n", ptr_id(sv), ptr_id(*sv));
	return 0;
}

static int expect_null(void *sv)
{
	if (sv) {
		pr_err("  got unexpected PTR%d result\n", ptr_id(sv));
		return -EINVAL;
	}
	pr_info("  got expected NULL result\n");
	return 0;
}

// ---- the test ------------------------------------------------------------------------------

struct test_object {
	unsigned char flags;
};

static int test_klp_shadow_vars_init(void)
{
	struct test_object objects[OBJECTS];
	char first_values[OBJECTS];
	int second_values[OBJECTS];
	void **first[OBJECTS], **second[OBJECTS];
	int i, err = 0;

	ptr_id(NULL); /* PTR0 */

	/* Nothing is there yet. */
	if (expect_null(logged_get(&objects[0], SV_FIRST)))
		return -EINVAL;

	/* Two variables per object; the first by get_or_alloc for even objects. */
	for (i = 0; i < OBJECTS; i++) {
		first[i] = logged_alloc(i % 2 == 0, &objects[i], SV_FIRST, sizeof(void *),
					GFP_KERNEL, shadow_ctor, &first_values[i]);
		if (!first[i])
			return -ENOMEM;
		second[i] = logged_alloc(false, &objects[i], SV_SECOND, sizeof(void *), GFP_KERNEL,
					 shadow_ctor, &second_values[i]);
		if (!second[i])
			return -ENOMEM;
	}

	/* Each one is found and still points at its object's value. */
	for (i = 0; i < OBJECTS; i++) {
		err |= expect_pointing(logged_get(&objects[i], SV_FIRST), &first_values[i]);
		err |= expect_pointing(logged_get(&objects[i], SV_SECOND), &second_values[i]);
	}

	/* get_or_alloc of an existing variable returns it without constructing a new one. */
	for (i = 0; i < OBJECTS; i++)
		err |= expect_pointing(logged_alloc(true, &objects[i], SV_FIRST, sizeof(void *),
						    GFP_KERNEL, shadow_ctor, &first_values[i]),
				       &first_values[i]);

	/* Freeing one id of one object leaves the other id alone. */
	for (i = 0; i < OBJECTS; i++) {
		logged_free(&objects[i], SV_FIRST, shadow_dtor);
		err |= expect_null(logged_get(&objects[i], SV_FIRST));
	}
	for (i = 0; i < OBJECTS; i++)
		err |= expect_pointing(logged_get(&objects[i], SV_SECOND), &second_values[i]);

	/* free_all takes the second id from every object. */
	logged_free_all(SV_SECOND, NULL);
	for (i = 0; i < OBJECTS; i++)
		err |= expect_null(logged_get(&objects[i], SV_SECOND));

	return err ? -EINVAL : 0;
}

static void test_klp_shadow_vars_exit(void)
{
}

module_init(test_klp_shadow_vars_init);
module_exit(test_klp_shadow_vars_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch test: shadow variables (klpemu's own)");
