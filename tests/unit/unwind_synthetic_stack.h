// A synthetic task stack in a host buffer for unwinder unit tests: a 16 KiB stack whose top
// holds the task's pt_regs with the FINAL metadata record (v6.13 layout), on which tests build
// frame-record chains by hand. Nothing here needs Unicorn.
//
//   top - 336           task pt_regs; stackframe {0, 0, FINAL} at top - 40
//   top - 336 - 16*k    frame records built by the test, growing down
#pragma once

#include "emu/cfi_table.h"
#include "unwinder/stack_view.h"

#include <cstring>
#include <vector>

namespace klpemu::unwinder::test {

inline constexpr GuestAddr kStackBase{0xffff800010000000};
inline constexpr GuestAddr kStackTop{0xffff800010004000};
inline constexpr GuestAddr kIrqBase{0xffff800010010000};
inline constexpr GuestAddr kIrqTop{0xffff800010014000};
// Function addresses of a pretend kernel: ret_from_fork calls A, A calls B, B calls C.
inline constexpr GuestAddr kRetFromFork{0xffff800008000100};
inline constexpr GuestAddr kRetFromForkRet{0xffff80000800010c}; // after its `bl` to the entry
inline constexpr GuestAddr kFuncA{0xffff800008001000};
inline constexpr GuestAddr kFuncB{0xffff800008002000};
inline constexpr GuestAddr kFuncC{0xffff800008003000};
inline constexpr GuestAddr kReturnToHandler{0xffff800008009000};

class SyntheticStack {
  public:
    SyntheticStack() : m_task(kStackTop - kStackBase), m_irq(kIrqTop - kIrqBase) {
        m_memory.map(kStackBase, m_task.data(), m_task.size());
        m_memory.map(kIrqBase, m_irq.data(), m_irq.size());
        const GuestAddr final_rec = pt_regs() + int64_t(pt_regs::kStackframe);
        write(final_rec, 0);
        write(final_rec + 8, 0);
        write(final_rec + 16, uint64_t(FrameMetaType::Final));
    }

    GuestAddr pt_regs() const { return kStackTop - int64_t(pt_regs::kSize); }
    GuestAddr final_record() const { return pt_regs() + int64_t(pt_regs::kStackframe); }

    void write(GuestAddr a, uint64_t v) {
        if (a >= kIrqBase) {
            std::memcpy(m_irq.data() + (a - kIrqBase), &v, 8);
        } else {
            std::memcpy(m_task.data() + (a - kStackBase), &v, 8);
        }
    }
    // Writes a frame record {fp, lr} at `at` and returns `at`.
    GuestAddr record(GuestAddr at, GuestAddr fp, GuestAddr lr) {
        write(at, fp.value);
        write(at + 8, lr.value);
        return at;
    }
    // Writes a pt_regs with a PT_REGS metadata record at `regs`; returns &regs->stackframe.
    GuestAddr exception_frame(GuestAddr regs, const Registers& r) {
        write(regs + int64_t(pt_regs::kX29), r.fp.value);
        write(regs + int64_t(pt_regs::kLr), r.lr.value);
        write(regs + int64_t(pt_regs::kSp), r.sp.value);
        write(regs + int64_t(pt_regs::kPc), r.pc.value);
        const GuestAddr meta = regs + int64_t(pt_regs::kStackframe);
        write(meta, 0);
        write(meta + 8, 0);
        write(meta + 16, uint64_t(FrameMetaType::PtRegs));
        return meta;
    }

    std::span<const KnownStack> stacks() const { return m_stacks; }
    StackView blocked(const Registers& r) const {
        StackView v = StackView::blocked(r, m_memory, stacks(), pt_regs());
        v.bottom_return_addresses = m_bottoms;
        return v;
    }
    StackView interrupted(const Registers& r) const {
        StackView v = StackView::interrupted(r, m_memory, stacks(), pt_regs());
        v.bottom_return_addresses = m_bottoms;
        return v;
    }
    const HostMemory& memory() const { return m_memory; }

  private:
    std::vector<uint8_t> m_task;
    std::vector<uint8_t> m_irq;
    HostMemory m_memory;
    std::vector<GuestAddr> m_bottoms{kRetFromForkRet};
    std::vector<KnownStack> m_stacks{KnownStack{StackKind::Task, GuestRange{kStackBase, kStackTop}},
                                     KnownStack{StackKind::Irq, GuestRange{kIrqBase, kIrqTop}}};
};

// CFI of a standard frame function at `f` (size 0x100):
//   f+0  stp x29, x30, [sp, #-16]!   CFA = sp       x29, x30 same
//   f+4  mov x29, sp                 CFA = sp + 16  x29 at CFA-16, x30 at CFA-8
//   f+8  ... body ...                CFA = x29 + 16
//   f+0xf8 ldp x29, x30, [sp], #16   (body row)
//   f+0xfc ret                       CFA = sp       x29, x30 same
inline std::vector<CfiRow> standard_frame_cfi(GuestAddr f) {
    const CfiRule same{CfiRuleKind::SameValue, 0};
    return {
        CfiRow{GuestRange{f, f + 4}, CfaBase::Sp, 0, same, same},
        CfiRow{GuestRange{f + 4, f + 8},
               CfaBase::Sp,
               16,
               {CfiRuleKind::AtCfa, -16},
               {CfiRuleKind::AtCfa, -8}},
        CfiRow{GuestRange{f + 8, f + 0xfc},
               CfaBase::Fp,
               16,
               {CfiRuleKind::AtCfa, -16},
               {CfiRuleKind::AtCfa, -8}},
        CfiRow{GuestRange{f + 0xfc, f + 0x100}, CfaBase::Sp, 0, same, same},
    };
}

// A graph return stack held in a vector.
class VectorGraphStack final : public GraphReturnStack {
  public:
    std::vector<GraphReturnEntry> entries_;
    std::span<const GraphReturnEntry> entries() const override { return entries_; }
    GuestAddr return_to_handler() const override { return kReturnToHandler; }
};

} // namespace klpemu::unwinder::test
