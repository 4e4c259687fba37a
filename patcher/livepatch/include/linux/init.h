/* klpemu guest kernel API: <linux/init.h>. */
#include <linux/module.h>
