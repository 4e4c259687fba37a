// Host calls: how guest code calls into C++ (design.md §3). The guest executes `hvc #imm`;
// Unicorn 2.0.1 raises it as an undefined-instruction trap with PC at the HVC (HVC is UNDEF with
// SCR_EL3.HCE=0), the machine decodes imm16 from the word and runs the handler inside the trap
// callback; the CPU goes on where the handler leaves it without leaving emulation, unless it must
// stop (docs/machine.md, "Host calls"). A handler may switch tasks, write text or read any state,
// but not run the machine. The HVC itself counts as one instruction; the handler's cost is
// kHostCallCycles. Numbers are split into ranges so layers never collide.
#pragma once

#include "emu/guest_addr.h"

#include <cstdint>
#include <functional>

namespace klpemu::emu {

class Machine;
struct Task;

namespace hc {
// Machine range 0x000-0x0ff (emu/guest/*.S).
inline constexpr uint16_t kSchedule = 0x001;  // schedule(): switch to the next runnable task.
inline constexpr uint16_t kTaskExit = 0x002;  // ret_from_fork tail: x0 is the exit value.
inline constexpr uint16_t kPrintk = 0x003;    // x0 = format string, x1.. = arguments.
inline constexpr uint16_t kIrq = 0x004;       // el1_interrupt: returns x0 = need_resched.
inline constexpr uint16_t kIdle = 0x005;      // cpu_idle: wfi when nothing is runnable.
inline constexpr uint16_t kRetToUser = 0x006; // exit_to_user_mode work of a user task.
inline constexpr uint16_t kPatchMap = 0x007;  // x0 = text address -> x0 = its FIX_TEXT_POKE0 alias.
inline constexpr uint16_t kPatchUnmap = 0x008; // clear the FIX_TEXT_POKE0 slot.
inline constexpr uint16_t kMachineFirst = 0x000, kMachineLast = 0x0ff;
// Patch engine range (ftrace ops callbacks, livepatch handler, graph tracer).
inline constexpr uint16_t kPatcherFirst = 0x100, kPatcherLast = 0x1ff;
// Scenarios and tests.
inline constexpr uint16_t kTestFirst = 0x200, kTestLast = 0x2ff;
} // namespace hc

// What a handler sees: the calling CPU and task, and its registers.
class HostCallContext {
  public:
    HostCallContext(Machine& machine, int cpu, Task& task, uint16_t number, GuestAddr pc)
        : m_machine(machine), m_cpu(cpu), m_task(task), m_number(number), m_pc(pc),
          m_next_pc(pc + int64_t(4)) {}

    Machine& machine() { return m_machine; }
    int cpu() const { return m_cpu; }
    Task& task() { return m_task; }
    uint16_t number() const { return m_number; }
    GuestAddr pc() const { return m_pc; } // The HVC.

    uint64_t arg(int index) const;           // x0..x30
    void set_reg(int index, uint64_t value); // x0..x30
    void set_result(uint64_t value) { set_reg(0, value); }

    // Where the CPU continues; pc()+4 unless the handler changes it.
    GuestAddr next_pc() const { return m_next_pc; }
    void set_next_pc(GuestAddr pc) { m_next_pc = pc; }

    // Set by handlers that switched the CPU to another task (the caller must not write PC).
    bool switched() const { return m_switched; }
    void mark_switched() { m_switched = true; }

  private:
    Machine& m_machine;
    int m_cpu;
    Task& m_task;
    uint16_t m_number;
    GuestAddr m_pc;
    GuestAddr m_next_pc;
    bool m_switched = false;
};

using HostCallHandler = std::function<void(HostCallContext&)>;

} // namespace klpemu::emu
