// The console log level of klpemu's kselftest kernel (kernel/printk/printk.c keeps it in
// console_printk[0]): the system state test-state.sh's livepatches change and restore.
#include <linux/printk.h>

int console_loglevel = CONSOLE_LOGLEVEL_DEFAULT;
