/* klpemu guest kernel API: <asm/current.h> and the few struct task_struct fields modules read.
 * `current` is the engine's record of the calling task (get_current, a klp_api operation):
 * pid and tgid are klpemu's task id (every task is its own thread group), comm its name. */
#ifndef _KLPEMU_ASM_CURRENT_H
#define _KLPEMU_ASM_CURRENT_H

typedef int pid_t;

#define TASK_COMM_LEN 16

struct task_struct {
	pid_t pid;
	pid_t tgid;
	char comm[TASK_COMM_LEN];
};

struct task_struct *get_current(void);
#define current get_current()

#endif
