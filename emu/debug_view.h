// What a patch engine shows in the step debugger (`klpemu step`, `klpemu gdb`). The debugger
// draws the machine's own views (registers, tasks with patch_state and TIF_PATCH_PENDING,
// stacks as each unwinder sees them); an engine that keeps state of its own, such as
// livepatch's patches, funcs and transition (kernel/livepatch/transition.c), registers a
// DebugView with Machine::add_debug_view() and the debugger asks it for its lines. emu declares
// the question so that patcher code can answer it without knowing the tools.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::emu {

class DebugView {
  public:
    virtual ~DebugView() = default;
    // A short stable name ("livepatch"), printed before its lines.
    virtual std::string_view name() const = 0;
    // Extra words for task `task` in `tasks` (e.g. "patching 'p1', refused: func on stack").
    virtual std::string task_note(int /*task*/) const { return {}; }
    // Lines of `patches`: patches, funcs and their stacks, the transition state.
    virtual std::vector<std::string> patch_lines() const { return {}; }
    // Lines under `bt` for task `task`: e.g. klp_check_stack()'s verdict on its stack now.
    virtual std::vector<std::string> stack_lines(int /*task*/) const { return {}; }
    // A counter that moves at every transition step (a try to switch a task, a task switched,
    // the transition started, reversed or completed): `break on transition` stops at the next
    // instruction after it moves.
    virtual uint64_t transition_events() const { return 0; }
    // The most recent transition step as one line, for the stop message.
    virtual std::string last_transition_event() const { return {}; }
};

} // namespace klpemu::emu
