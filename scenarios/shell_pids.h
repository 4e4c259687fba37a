// Process ids in livepatch shell lines. test-syscall.sh loads its module with
// `klp_pids=$pid_list`, the pids of the processes it started; a scenario writes
// `klp_pids=$USER_PIDS` and gets the ids of its live user tasks (klpemu's pid of a task is its
// task id, as `current->pid` and the transition's debug lines show it). The kselftest view
// writes any `klp_pids=` list as the expected text does, `<PID1,PID2,...>`.
#pragma once

#include "emu/machine.h"

#include <string>

namespace klpemu::scenario {

// The ids of every user task that has not exited, in creation order, comma-separated.
std::string user_task_pids(const emu::Machine& machine);

// `text` with every "$USER_PIDS" replaced by user_task_pids(machine).
std::string expand_user_pids(std::string text, const emu::Machine& machine);

// `line` with the value of every `klp_pids=` parameter written as "<PID1,PID2,...>".
std::string hide_klp_pids(std::string line);

} // namespace klpemu::scenario
