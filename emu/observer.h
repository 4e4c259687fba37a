// What can be observed of the machine (style.md §5). The kernel's patching code and its
// unwinder watch a running system from outside; here the patcher (text poke visibility, ftrace),
// the unwinder (ground-truth shadow stacks, per-step reliability checks) and tests implement
// ExecutionObserver, and emu never names them. Every callback runs on the single scheduler
// thread, possibly inside a Unicorn hook: it must not throw and must not start emulation. To
// halt the run, call Machine::request_stop(); to patch text, call Machine::write_text().
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"

#include <cstdint>

namespace klpemu::emu {

// The instruction a CPU is about to execute.
struct InsnEvent {
    int cpu = 0;
    int task = -1;         // Task id running on that CPU.
    GuestAddr pc;
    InsnWord word;         // The word at pc as guest memory holds it now.
    uint64_t instruction = 0; // Global instruction count (the one clock) before this one.
};

enum class ExceptionKind { Irq, HostCall };

class ExecutionObserver {
  public:
    virtual ~ExecutionObserver() = default;

    // Before each instruction executes (PC exact, registers as the instruction will see them).
    virtual void on_instruction(const InsnEvent&) {}
    // After a guest store (only if MachineConfig::observe_memory_writes).
    virtual void on_memory_write(int /*cpu*/, GuestAddr /*pc*/, GuestAddr /*addr*/, int /*size*/) {}
    // Exception entry: `pc` is the interrupted PC (ELR_EL1).
    virtual void on_exception_entry(int /*cpu*/, int /*task*/, ExceptionKind, GuestAddr /*pc*/) {}
    // Exception return: `pc` is where ERET goes.
    virtual void on_exception_return(int /*cpu*/, int /*task*/, ExceptionKind, GuestAddr /*pc*/) {}
    // A task was created (copy_process); `parent` is the task that forked it, or -1 when no
    // task klpemu runs did (kthreadd, the shell). Called before the task first runs.
    virtual void on_task_created(int /*task*/, int /*parent*/) {}
    // A CPU switched tasks (cpu_switch_to); `from` is -1 when the previous task has exited.
    virtual void on_task_switch(int /*cpu*/, int /*from*/, int /*to*/) {}
    // A guest `hvc #number` is about to be handled.
    virtual void on_host_call(int /*cpu*/, int /*task*/, uint32_t /*number*/) {}
    // A user task passed its return-to-user point (exit_to_user_mode).
    virtual void on_return_to_user(int /*cpu*/, int /*task*/) {}
    // A context synchronisation event on `cpu` (Arm ARM B2.2.5): an ISB (any option) executed,
    // an exception taken or returned from (IRQ entry, ERET, SVC entry and ERET to EL0: Linux sets
    // SCTLR_EL1.EIS|EOS). From here on the CPU fetches text as memory holds it.
    virtual void on_context_sync(int /*cpu*/) {}
};

} // namespace klpemu::emu
