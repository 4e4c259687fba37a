// See cfi_unwinder.h.
#include "unwinder/cfi_unwinder.h"

#include "unwinder/fgraph_recovery.h"

#include <fmt/format.h>

namespace klpemu::unwinder {

namespace {

struct Frame {
    GuestAddr pc;
    GuestAddr sp;
    GuestAddr fp;
    std::optional<GuestAddr> lr; // Known only in the first frame and right after a pt_regs.
    bool at_call = false;        // pc is a return address: look the row up at pc - 4.
};

class Walk {
  public:
    Walk(const StackView& view, UnwindResult& result)
        : m_view(view), m_graph(view.graph, view.return_to_handler), m_result(result) {
        m_result.clear();
    }

    void run(Frame frame) {
        m_result.return_addresses.push_back(frame.pc);
        while (m_result.return_addresses.size() <= kMaxStackEntries) {
            if (!step(frame)) {
                end();
                return;
            }
        }
        m_limited = true;
        m_result.reliable = false;
        m_result.reason = fmt::format("more than {} entries", kMaxStackEntries);
        end();
    }

  private:
    // Unwinds one frame; false when the walk ended (m_result says how).
    bool step(Frame& frame) {
        if (ChainCache* chain = m_view.chain) {
            const size_t n = m_result.return_addresses.size();
            chain->step(uint32_t(n), n);
            // A frame entered through a return address: the rest depends on it alone.
            if (!frame.lr && frame.at_call) {
                const ChainKey key{frame.pc.value, frame.sp.value, frame.fp.value};
                if (const std::optional<ChainHit> hit = chain->reach(key, kMaxStackEntries + 1)) {
                    return take(*hit);
                }
            }
        }
        if (m_view.cfi == nullptr) {
            return fail("no CFI table");
        }
        const GuestAddr lookup = frame.at_call ? frame.pc - 4 : frame.pc;
        const CfiRow* row = m_view.cfi->find(lookup);
        if (row == nullptr) {
            return fail("no CFI covers {}", lookup);
        }
        if (row->cfa_base == CfaBase::Other || row->fp.kind == CfiRuleKind::Other ||
            row->ra.kind == CfiRuleKind::Other) {
            return fail("unsupported CFI rule at {}", lookup);
        }
        const GuestAddr base = row->cfa_base == CfaBase::Sp ? frame.sp : frame.fp;
        const GuestAddr cfa = base + row->cfa_offset;
        if (cfa < frame.sp || m_view.stack_containing(cfa - 1, 1) == nullptr) {
            return fail("CFA {} at {} is off the stack or below sp", cfa, lookup);
        }
        if (row->ra.kind == CfiRuleKind::Undefined) {
            // The outermost frame by CFI: fine only if it is the task's bottom frame.
            if (frame.fp == m_view.final_record() && is_meta(frame.fp, FrameMetaType::Final)) {
                return done();
            }
            return fail("outermost frame at {} is not at the task's pt_regs", lookup);
        }
        std::optional<GuestAddr> ra = read_rule(row->ra, cfa, frame.lr);
        if (!ra) {
            return fail("return address of {} not recoverable", lookup);
        }
        std::optional<GuestAddr> caller_fp = read_rule(row->fp, cfa, frame.fp);
        if (!caller_fp) {
            return fail("caller's x29 of {} not recoverable", lookup);
        }
        GuestAddr pc = strip_pac(*ra);
        if (m_graph.is_hijacked(pc)) {
            const std::optional<GuestAddr> orig = m_graph.recover(*caller_fp);
            if (!orig) {
                return fail("return_to_handler with retp {} not in ret_stack", *caller_fp);
            }
            pc = *orig;
        }
        m_result.return_addresses.push_back(pc);
        if (*caller_fp == m_view.final_record() && is_meta(*caller_fp, FrameMetaType::Final)) {
            return done();
        }
        if (is_meta(*caller_fp, FrameMetaType::PtRegs)) {
            return cross_exception(*caller_fp, cfa, frame);
        }
        frame = Frame{pc, cfa, *caller_fp, std::nullopt, true};
        return true;
    }

    // Continues from the pt_regs whose stackframe is at `meta`.
    bool cross_exception(GuestAddr meta, GuestAddr cfa, Frame& frame) {
        const GuestAddr regs = meta - int64_t(pt_regs::kStackframe);
        if (regs < cfa || m_view.stack_containing(regs, pt_regs::kSize) == nullptr) {
            return fail("pt_regs at {} is off the stack", regs);
        }
        const auto pc = m_view.read_u64(regs + int64_t(pt_regs::kPc));
        const auto sp = m_view.read_u64(regs + int64_t(pt_regs::kSp));
        const auto fp = m_view.read_u64(regs + int64_t(pt_regs::kX29));
        const auto lr = m_view.read_u64(regs + int64_t(pt_regs::kLr));
        if (!pc || !sp || !fp || !lr) {
            return fail("pt_regs at {} is unmapped", regs);
        }
        frame =
            Frame{strip_pac(GuestAddr(*pc)), GuestAddr(*sp), GuestAddr(*fp), GuestAddr(*lr), false};
        m_result.return_addresses.push_back(frame.pc);
        return true;
    }

    std::optional<GuestAddr> read_rule(const CfiRule& rule, GuestAddr cfa,
                                       std::optional<GuestAddr> same) const {
        if (rule.kind == CfiRuleKind::SameValue) {
            return same;
        }
        if (rule.kind != CfiRuleKind::AtCfa) {
            return std::nullopt;
        }
        const GuestAddr slot = cfa + rule.offset;
        if (m_view.stack_containing(slot, 8) == nullptr) {
            return std::nullopt;
        }
        const std::optional<uint64_t> v = m_view.read_u64(slot);
        return v ? std::optional<GuestAddr>(GuestAddr(*v)) : std::nullopt;
    }

    bool is_meta(GuestAddr fp, FrameMetaType type) const {
        if (!fp.is_aligned(8) || m_view.stack_containing(fp, 24) == nullptr) {
            return false;
        }
        return m_view.read_u64(fp) == 0u && m_view.read_u64(fp + 8) == 0u &&
               m_view.read_u64(fp + 16) == uint64_t(type);
    }

    // The rest of the walk from the frame-chain memo.
    bool take(const ChainHit& hit) {
        auto& out = m_result.return_addresses;
        out.insert(out.end(), hit.entries.begin(), hit.entries.end());
        m_end_count = hit.end_count;
        m_limited = hit.limited;
        m_result.reliable = hit.reliable;
        if (hit.limited) {
            m_result.reason = fmt::format("more than {} entries", kMaxStackEntries);
        } else {
            m_result.reason.assign(hit.reason);
        }
        return false;
    }

    void end() {
        if (m_view.chain != nullptr) {
            const auto& out = m_result.return_addresses;
            const uint32_t count = m_end_count ? *m_end_count : uint32_t(out.size());
            m_view.chain->finish(out, count, m_limited, m_result.reliable, m_result.reason, count);
        }
    }

    bool done() {
        m_result.reliable = true;
        m_result.reason = "reached the task's FINAL record";
        return false;
    }

    // Ends the walk unreliably; the reason names the addresses only where someone reads it
    // (StackView::detailed_reasons), else it is the bare pattern.
    template <typename... Args> bool fail(fmt::format_string<Args...> why, Args&&... args) {
        m_result.reliable = false;
        if (m_view.detailed_reasons) {
            m_result.reason = fmt::format(why, std::forward<Args>(args)...);
        } else {
            const fmt::string_view text = why;
            m_result.reason.assign(text.data(), text.size());
        }
        return false;
    }

    const StackView& m_view;
    GraphRecovery m_graph;
    UnwindResult& m_result;
    bool m_limited = false;              // Stopped at kMaxStackEntries.
    std::optional<uint32_t> m_end_count; // When the memo gave the rest.
};

} // namespace

void CfiUnwinder::unwind_into(const StackView& view, UnwindResult& result) const {
    const Registers& r = view.regs;
    if (view.stop == StopKind::Interrupted) {
        Walk(view, result).run(Frame{strip_pac(r.pc), r.sp, r.fp, r.lr, false});
        return;
    }
    // Blocked/Current: pc is a return address into the function that made the call.
    Walk(view, result).run(Frame{strip_pac(r.pc), r.sp, r.fp, std::nullopt, true});
}

std::optional<GuestAddr> CfiUnwinder::pc_class(GuestAddr pc, StopKind stop,
                                               const PcFacts& facts) const {
    if (facts.cfi == nullptr) {
        return std::nullopt; // "no CFI table" at every pc.
    }
    // As unwind_into's first frame: a blocked task's pc is a return address.
    const GuestAddr lookup = stop == StopKind::Interrupted ? strip_pac(pc) : strip_pac(pc) - 4;
    const CfiRow* row = facts.cfi->find(lookup);
    return row != nullptr ? row->pcs.begin : pc;
}

} // namespace klpemu::unwinder
