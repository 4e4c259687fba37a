/* klpemu guest kernel API: <linux/livepatch.h>. The field names and designated-initializer
 * surface are the kernel's; the layout, including the fields the kernel keeps private, is
 * klpemu's own and mirrored by patcher/livepatch/klp_layout.h, from which the engine reads the
 * patch at klp_enable_patch() time. The functions are host calls into that engine. */
#ifndef _KLPEMU_LINUX_LIVEPATCH_H
#define _KLPEMU_LINUX_LIVEPATCH_H

#include <linux/types.h>
#include <linux/module.h>

#define KLP_TRANSITION_IDLE -1
#define KLP_TRANSITION_UNPATCHED 0
#define KLP_TRANSITION_PATCHED 1
/* The names before the 2024 rename. */
#define KLP_UNDEFINED KLP_TRANSITION_IDLE
#define KLP_UNPATCHED KLP_TRANSITION_UNPATCHED
#define KLP_PATCHED KLP_TRANSITION_PATCHED

struct klp_func {
	/* external */
	const char *old_name;
	void *new_func;
	unsigned long old_sympos;
	/* internal, written by the engine */
	void *old_func;
	unsigned long old_size, new_size;
	bool nop;
	bool patched;
	bool transition;
};

struct klp_object;

struct klp_callbacks {
	int (*pre_patch)(struct klp_object *obj);
	void (*post_patch)(struct klp_object *obj);
	void (*pre_unpatch)(struct klp_object *obj);
	void (*post_unpatch)(struct klp_object *obj);
	bool post_unpatch_enabled;
};

struct klp_object {
	/* external */
	const char *name;
	struct klp_func *funcs;
	struct klp_callbacks callbacks;
	/* internal */
	struct module *mod;
	bool dynamic;
	bool patched;
};

struct klp_state {
	unsigned long id;
	unsigned int version;
	void *data;
};

struct klp_patch {
	/* external */
	struct module *mod;
	struct klp_object *objs;
	struct klp_state *states;
	bool replace;
	/* internal */
	bool enabled;
	bool forced;
};

#define klp_for_each_object_static(patch, obj) \
	for (obj = (patch)->objs; obj->funcs || obj->name; obj++)
#define klp_for_each_func_static(obj, func) \
	for (func = (obj)->funcs; func && (func->old_name || func->new_func || func->old_sympos); func++)

int klp_enable_patch(struct klp_patch *patch);

/* Called from the kernel's exit-to-user and idle paths; a module never needs it. */
void klp_update_patch_state(void *task);

typedef int (*klp_shadow_ctor_t)(void *obj, void *shadow_data, void *ctor_data);
typedef void (*klp_shadow_dtor_t)(void *obj, void *shadow_data);

void *klp_shadow_get(void *obj, unsigned long id);
void *klp_shadow_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
		       klp_shadow_ctor_t ctor, void *ctor_data);
void *klp_shadow_get_or_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
			      klp_shadow_ctor_t ctor, void *ctor_data);
void klp_shadow_free(void *obj, unsigned long id, klp_shadow_dtor_t dtor);
void klp_shadow_free_all(unsigned long id, klp_shadow_dtor_t dtor);

struct klp_state *klp_get_state(struct klp_patch *patch, unsigned long id);
struct klp_state *klp_get_prev_state(unsigned long id);

#endif
