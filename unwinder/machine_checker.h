// The reliability checker attached to a running Machine: an ExecutionObserver (emu/observer.h)
// that feeds every instruction, exception entry/return and host call of the machine's tasks to
// a ReliabilityChecker, reading registers from the stopped CPU and guest memory through the
// machine's host pointers. Tasks are registered the first time they run; a task that had
// already run when the checker was attached has an incomplete truth and is only counted as
// skipped.
#pragma once

#include "emu/machine.h"
#include "emu/observer.h"
#include "unwinder/reliability_checker.h"

#include <memory>
#include <unordered_map>
#include <vector>

namespace klpemu::unwinder {

// Guest memory of a machine, read through its host pointers (no copies, no Unicorn calls).
class MachineMemory final : public MemoryReader {
  public:
    explicit MachineMemory(const emu::GuestMemory& memory) : m_memory(memory) {}
    std::optional<uint64_t> read_u64(GuestAddr addr) const override;
    const uint8_t* host_bytes(GuestAddr addr, uint64_t size) const override {
        return m_memory.host_ptr(addr, size);
    }

  private:
    const emu::GuestMemory& m_memory;
};

class MachineChecker final : public emu::ExecutionObserver {
  public:
    // Attaches to `machine` (which must outlive this); `cfi` may be null.
    MachineChecker(emu::Machine& machine, CheckerConfig config, const CfiTable* cfi);
    ~MachineChecker() override;
    MachineChecker(const MachineChecker&) = delete;
    MachineChecker& operator=(const MachineChecker&) = delete;

    // The graph tracer's return stack of `task` (the patcher implements GraphReturnStack).
    void set_graph_stack(int task, const GraphReturnStack* graph) { m_graph[task] = graph; }

    ReliabilityChecker& checker() { return *m_checker; }
    const ReliabilityChecker& checker() const { return *m_checker; }
    // Times sp/x29/x30 were read from a CPU for the copy (not counting --full-walk's
    // verification reads). For tests and benchmarks.
    uint64_t frame_reg_reads() const { return m_frame_reg_reads; }

    void on_instruction(const emu::InsnEvent& ev) override;
    void on_exception_entry(int cpu, int task, emu::ExceptionKind kind, GuestAddr pc) override;
    void on_exception_return(int cpu, int task, emu::ExceptionKind kind, GuestAddr pc) override;
    void on_host_call(int cpu, int task, uint32_t number) override;
    void on_task_switch(int cpu, int from, int to) override;

    // sp/x29/x30 of one CPU as last read, valid until an instruction that may write them runs or
    // the host writes one of them (Machine::frame_register_writes). An instruction whose effect on
    // them is known (frame_effect.h) leaves the registers it will produce pending: the CPU's next
    // boundary takes them, unless the host wrote a register in between.
    struct CpuRegs {
        emu::FrameRegs regs;
        uint64_t host_writes = 0;
        bool valid = false;
        bool pending = false;
        emu::FrameRegs next; // What the instruction at pending_pc leaves, while `pending`.
        FrameEffect effect;  // Its effect (for the verification's message).
        GuestAddr pending_pc;
    };

  private:
    void ensure_task(int task);
    // Brings `cache` up to date for the boundary `ev` (host writes, a pending effect).
    void update_frame_regs(CpuRegs& cache, const emu::InsnEvent& ev);
    void read_frame_regs(CpuRegs& cache, int cpu, uint64_t host_writes);
    [[gnu::noinline, gnu::cold]] void verify_frame_regs(const CpuRegs& cache,
                                                        const emu::InsnEvent& ev) const;

    emu::Machine& m_machine;
    MachineMemory m_memory;
    std::unique_ptr<ReliabilityChecker> m_checker;
    std::vector<uint8_t> m_known; // Per task id: 1 once registered with the checker.
    std::unordered_map<int, const GraphReturnStack*> m_graph;
    GuestAddr m_eret; // el1_eret: where exception returns are reported from.
    std::vector<CpuRegs> m_regs; // Per CPU.
    // --full-walk: the copies are compared with the CPU's registers at every boundary (the
    // differential test then checks every frame effect on the whole library).
    bool m_verify_frame_regs = false;
    uint64_t m_frame_reg_reads = 0;
};

} // namespace klpemu::unwinder
