// Tasks as the arm64 kernel lays them out. Each task owns a 16 KiB stack (16 KiB aligned, like
// THREAD_SIZE with VMAP_STACK) whose top holds its pt_regs; the pt_regs' stackframe is the
// FINAL metadata record (v6.13+, init_cpu_task/copy_thread), and x29 points at it when the task
// starts, so every reliable unwind ends there. A task not running sleeps inside guest
// schedule(): its saved context is what cpu_switch_to keeps in thread_struct.cpu_context.
//
//   stack.end   +----------------------------+  (16 KiB aligned)
//               | struct pt_regs (336 bytes) |
//   +312        |   stackframe.type = FINAL  |
//   +304        |   stackframe.lr   = 0      |
//   +296        |   stackframe.fp   = 0      |  <- x29 at task start
//   pt_regs     +----------------------------+  <- sp at task start (task_pt_regs)
//               |  ... kernel stack grows down
//   stack.begin +----------------------------+
#pragma once

#include "emu/guest_addr.h"

#include <array>
#include <cstdint>
#include <string>

namespace klpemu::emu {

// struct pt_regs, v6.13+ (reference/kernel-semantics.md §0); a machine's tasks use the era's
// size and S_STACKFRAME (emu/kernel_era.h), the rest of the layout is the same in every era.
inline constexpr uint64_t kPtRegsSize = 336;
inline constexpr uint64_t kSFp = 232;
inline constexpr uint64_t kSLr = 240;
inline constexpr uint64_t kSSp = 248;
inline constexpr uint64_t kSPc = 256;
inline constexpr uint64_t kSPstate = 264;
inline constexpr uint64_t kSStackframe = 296; // frame_record_meta {fp, lr, type}
inline constexpr uint64_t kSStackframeType = 312;
inline constexpr uint64_t kFrameMetaFinal = 1;
inline constexpr uint64_t kFrameMetaPtRegs = 2;
inline constexpr uint64_t kThreadSize = 16 * 1024;

enum class TaskKind { Kthread, User, Idle };
enum class TaskState { Runnable, Running, Blocked, Exited, Killed };

// Livepatch per-task state (KLP_TRANSITION_IDLE / UNPATCHED / PATCHED).
enum class PatchState { Idle = -1, Unpatched = 0, Patched = 1 };

// "idle", "unpatched", "patched": how the views and findings spell a PatchState.
constexpr const char* patch_state_name(PatchState p) {
    switch (p) {
    case PatchState::Idle:
        return "idle";
    case PatchState::Unpatched:
        return "unpatched";
    case PatchState::Patched:
        return "patched";
    }
    return "?";
}

// thread_struct.cpu_context: what cpu_switch_to saves and restores.
struct SavedContext {
    std::array<uint64_t, 10> x19_x28{};
    uint64_t fp = 0;
    uint64_t lr = 0;
    uint64_t sp = 0;
    uint64_t pc = 0;         // Where the task resumes (inside schedule(), or its start stub).
    bool irq_masked = false; // PSTATE.I of the context (set when preempted from an IRQ).
};

inline constexpr uint64_t kNoTimer = UINT64_MAX;
inline constexpr uint32_t kTaskInterruptible = 0x0001; // TASK_INTERRUPTIBLE in Task::sleep_state

struct Task {
    int id = 0;
    std::string name;
    TaskKind kind = TaskKind::Kthread;
    int cpu = 0;             // The CPU it runs on (tasks do not migrate).
    TaskState state = TaskState::Runnable;
    GuestRange stack;        // 16 KiB, 16 KiB aligned.
    GuestAddr pt_regs;       // task_pt_regs(): stack.end - the era's PT_REGS_SIZE.
    SavedContext saved;
    GuestAddr entry;         // Function the task runs (kthread) or its syscall (user).
    std::array<uint64_t, 8> args{};
    uint64_t repeat = 1;     // User tasks: syscalls to make before exiting.
    uint64_t syscalls = 0;   // User tasks: completed returns to user.
    uint64_t exit_value = 0; // x0 at task exit.
    PatchState patch_state = PatchState::Idle;
    bool tif_patch_pending = false;
    // __state as set_current_state() left it (TASK_RUNNING = 0). schedule() blocks a task whose
    // state is not TASK_RUNNING until Machine::wake_up(), unless a timer is armed (timer_at):
    // a timed sleep yields until the clock passes it, as msleep does (docs/machine.md, "Tasks").
    uint32_t sleep_state = 0;
    // TIF_NOTIFY_SIGNAL (set_notify_signal; livepatch's fake signal): signal_pending() is true
    // until the task's next exit to user, and schedule() does not put a TASK_INTERRUPTIBLE
    // sleeper to sleep while it is set (signal_pending_state). klpemu models no other signal.
    bool tif_notify_signal = false;
    // schedule_timeout's timer: the clock at which the task's sleep ends, or kNoTimer.
    uint64_t timer_at = kNoTimer;
    uint64_t instructions = 0;
    uint64_t cycles = 0;

    bool finished() const { return state == TaskState::Exited || state == TaskState::Killed; }
};

} // namespace klpemu::emu
