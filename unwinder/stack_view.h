// What an unwinder policy sees of a stopped task: its registers, its known stacks, guest memory,
// its own pt_regs (the bottom of the task stack, v6.13+ layout) and, optionally, the graph
// tracer's return stack and the CFI table. It models the three start points of arm64's
// kunwind (arch/arm64/kernel/stacktrace.c, reference §8):
//
//   StopKind     | kernel start point            | what `regs` holds
//   -------------+-------------------------------+------------------------------------------
//   Interrupted  | kernel_entry built pt_regs;   | the CPU state at the interrupted boundary;
//                | a walk from another task meets| the pt_regs frame exception entry would push
//                | its PT_REGS metadata record   | is built *virtually* at sp - 336 and served
//                |                               | by read_u64(), never written to the guest
//   Blocked      | thread_saved_pc/fp (TASK)     | pc = the return address into the function
//                |                               | that called schedule(), fp = its x29
//   Current      | __builtin_return_address(0) / | pc = the caller's return address, fp = the
//                | __builtin_frame_address(1)    | caller's frame record (CALLER)
//
// struct pt_regs (v6.13+, PT_REGS_SIZE 336), as kernel_entry lays it out:
//
//   regs + 0   .. 240  regs[0..30]   (S_FP 232 = x29, S_LR 240 = x30)
//   regs + 248         sp
//   regs + 256         pc            (ELR_EL1)
//   regs + 264         pstate
//   regs + 296         stackframe.fp    \  frame_record_meta: {0, 0, type}; x29 points at
//   regs + 304         stackframe.lr     } regs + 296 after kernel_entry. type FINAL (1) at the
//   regs + 312         stackframe.type  /  task's own pt_regs (task stack top - 336), PT_REGS (2)
//   regs + 336                            at an exception from EL1
#pragma once

#include "emu/cfi_table.h"
#include "emu/graph_return_stack.h"
#include "emu/guest_addr.h"
#include "unwinder/chain_cache.h"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace klpemu::unwinder {

// struct pt_regs offsets, v6.13+ (reference §0).
namespace pt_regs {
inline constexpr uint64_t kSize = 336;       // PT_REGS_SIZE
inline constexpr uint64_t kX29 = 232;        // S_FP
inline constexpr uint64_t kLr = 240;         // S_LR
inline constexpr uint64_t kSp = 248;         // S_SP
inline constexpr uint64_t kPc = 256;         // S_PC
inline constexpr uint64_t kPstate = 264;     // S_PSTATE
inline constexpr uint64_t kStackframe = 296; // S_STACKFRAME: frame_record_meta {fp, lr, type}
inline constexpr uint64_t kMetaType = 312;   // stackframe.type
} // namespace pt_regs

// frame_record_meta.type (asm/stacktrace/frame.h).
enum class FrameMetaType : uint64_t { None = 0, Final = 1, PtRegs = 2 };

// The registers an unwinder starts from.
struct Registers {
    GuestAddr pc;
    GuestAddr lr; // x30
    GuestAddr fp; // x29
    GuestAddr sp;
};

// Reads guest memory; the machine implements it over host pointers, tests over a buffer.
class MemoryReader {
  public:
    virtual ~MemoryReader() = default;
    // The 64-bit little-endian value at `addr`, or nullopt if unmapped.
    virtual std::optional<uint64_t> read_u64(GuestAddr addr) const = 0;
    // Host bytes of [addr, addr+size) if they lie in one region, else nullptr (the checker
    // compares stack bytes with its shadow copy through it).
    virtual const uint8_t* host_bytes(GuestAddr /*addr*/, uint64_t /*size*/) const {
        return nullptr;
    }
};

// Guest memory given as host byte regions (the machine's RAM is host memory it owns).
class HostMemory final : public MemoryReader {
  public:
    // Makes `size` bytes at `host` readable as guest [base, base+size); they must outlive this.
    void map(GuestAddr base, const uint8_t* host, uint64_t size);
    std::optional<uint64_t> read_u64(GuestAddr addr) const override;
    const uint8_t* host_bytes(GuestAddr addr, uint64_t size) const override;

  private:
    struct Region {
        GuestRange range;
        const uint8_t* host;
    };
    std::vector<Region> m_regions;
};

enum class StackKind { Task, Irq, Overflow };

// A stack the unwinder may walk (struct stack_info).
struct KnownStack {
    StackKind kind = StackKind::Task;
    GuestRange range;
};

enum class StopKind { Interrupted, Blocked, Current };

// The pt_regs frame exception entry would push at an interrupted boundary, held on the host.
struct VirtualPtRegs {
    GuestAddr addr; // sp - PT_REGS_SIZE.
    Registers regs; // The interrupted state.
};

struct StackView {
    StopKind stop = StopKind::Blocked;
    Registers regs;
    const MemoryReader* memory = nullptr;
    std::span<const KnownStack> stacks;         // The task stack first; not owned.
    GuestAddr task_pt_regs;                     // task stack top - PT_REGS_SIZE: the FINAL record.
    const GraphReturnStack* graph = nullptr;    // The graph tracer's return stack, if any.
    std::optional<GuestAddr> return_to_handler; // Known even when `graph` is not wired up.
    const CfiTable* cfi = nullptr;              // CFI of everything loaded, for the cfi policy.
    std::span<const GuestAddr>
        bottom_return_addresses; // seed-v4: where a kthread's last LR points.
    // The frame-chain memo of the walk (chain_cache.h); null: walk everything. Only valid
    // with one known stack and no graph return entries (the rest of a walk then depends on
    // its frame records alone).
    ChainCache* chain = nullptr;
    // False: policies leave the addresses out of their reasons (the bare pattern; kunwind's
    // exception boundary, kunwind's and cfi's errors), which they would otherwise format at
    // nearly every walk. The per-step checker keeps no reasons;
    // the verdict never depends on the text.
    bool detailed_reasons = true;

    // Builds an interrupted view: a virtual pt_regs frame at regs.sp - 336 (nothing is written).
    // `stacks` must outlive the view.
    static StackView interrupted(const Registers& regs, const MemoryReader& memory,
                                 std::span<const KnownStack> stacks, GuestAddr task_pt_regs);
    // Builds a blocked (or current) view starting at pc/fp.
    static StackView blocked(const Registers& regs, const MemoryReader& memory,
                             std::span<const KnownStack> stacks, GuestAddr task_pt_regs,
                             StopKind kind = StopKind::Blocked);

    // Guest memory as the policy sees it: the virtual pt_regs first, then `memory`.
    std::optional<uint64_t> read_u64(GuestAddr addr) const;
    // The known stack holding all of [addr, addr+size), or nullptr.
    const KnownStack* stack_containing(GuestAddr addr, uint64_t size) const;
    // Where the virtual pt_regs lives (Interrupted only).
    std::optional<VirtualPtRegs> virtual_regs() const { return m_virtual; }
    // The address of the task's FINAL metadata record.
    GuestAddr final_record() const { return task_pt_regs + int64_t(pt_regs::kStackframe); }

  private:
    std::optional<VirtualPtRegs> m_virtual;
};

// ptrauth_strip_kernel_insn_pac(): a kernel (bit 55 set) pointer gets all PAC bits set.
constexpr GuestAddr strip_pac(GuestAddr a) {
    return (a.value & (1ull << 55)) != 0 ? GuestAddr(a.value | 0xffff000000000000ull) : a;
}

} // namespace klpemu::unwinder
