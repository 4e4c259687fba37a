/*
 * A module that reads and updates a kernel variable, and says which module it is through the
 * KBUILD_MODNAME kbuild defines for every module object.
 */
extern unsigned long counter;
extern unsigned long read_counter(void);

static const char modname[] = KBUILD_MODNAME;

unsigned long bump_counter(unsigned long by)
{
	counter += by;
	return read_counter() + (modname[0] == 'd');
}
