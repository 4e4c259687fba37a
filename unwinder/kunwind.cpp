// See kunwind.h. The walk state mirrors struct kunwind_state: fp, pc, source, and per known
// stack the lowest address not yet consumed (struct stack_info.low).
//
//   fp -> [fp+0]  caller fp \ frame record, or metadata {0, 0, type}:
//         [fp+8]  lr        /   FINAL (1)   at task_pt_regs->stackframe: clean end
//         [fp+16] type          PT_REGS (2) regs = fp - 296: pc = regs->pc, fp = regs->x29
#include "unwinder/kunwind.h"

#include "emu/check.h"
#include "unwinder/fgraph_recovery.h"

#include <fmt/format.h>

#include <array>

namespace klpemu::unwinder {

namespace {

enum class Source { Task, Caller, RegsPc, FrameRecord };

// Rest: the frame-chain memo gave the rest of the walk (Walk::hit()).
enum class Step { Continue, End, Error, Rest };

class Walk {
  public:
    explicit Walk(const StackView& view)
        : m_view(view), m_graph(view.graph, view.return_to_handler),
          m_chain(view.stacks.size() == 1 ? view.chain : nullptr) {
        KLP_CHECK(view.stacks.size() <= m_low.size(), "kunwind: {} known stacks, at most {}",
                  view.stacks.size(), m_low.size());
        for (size_t i = 0; i < view.stacks.size(); ++i) {
            m_low[i] = view.stacks[i].range.begin;
        }
    }

    // kunwind_next_frame_record() (and _meta); on Error, m_error says why. `count`: entries so
    // far (the frame-chain memo's step count).
    Step next(GuestAddr& fp, GuestAddr& pc, Source& source, size_t count) {
        if (m_chain != nullptr) {
            m_chain->step(uint32_t(count), count);
        }
        if (!fp.is_aligned(8)) {
            return fail("misaligned fp {}", fp);
        }
        const int s = unconsumed_stack(fp, 16);
        if (s < 0) {
            return fail("frame record {} is not inside an unconsumed known stack", fp);
        }
        const std::optional<uint64_t> rec_fp = m_view.read_u64(fp);
        const std::optional<uint64_t> rec_lr = m_view.read_u64(fp + 8);
        if (!rec_fp || !rec_lr) {
            return fail("frame record at {} is unmapped", fp);
        }
        if (*rec_fp == 0 && *rec_lr == 0) {
            return next_meta(s, fp, pc, source);
        }
        // From a frame record on the one known stack, above what was consumed, the rest of the
        // walk depends only on the record and what it reads.
        if (m_chain != nullptr) {
            m_reached = true;
            m_hit = m_chain->reach(ChainKey{fp.value, *rec_fp, *rec_lr}, kMaxStackEntries);
            if (m_hit) {
                return Step::Rest;
            }
        }
        consume(s, fp + 16);
        fp = GuestAddr(*rec_fp);
        pc = strip_pac(GuestAddr(*rec_lr));
        source = Source::FrameRecord;
        return recover(fp, pc) ? Step::Continue : Step::Error;
    }

    // kunwind_recover_return_address().
    bool recover(GuestAddr fp, GuestAddr& pc) {
        if (!m_graph.is_hijacked(pc)) {
            return true;
        }
        const std::optional<GuestAddr> orig = m_graph.recover(fp);
        if (!orig) {
            fail("return_to_handler with retp {} not found in ret_stack", fp);
            return false;
        }
        pc = *orig;
        return true;
    }

    const std::string& error() const { return m_error; }
    ChainCache* chain() const { return m_chain; }
    // True once the frame-chain memo was asked (its rest starts there).
    bool reached() const { return m_reached; }
    const ChainHit& hit() const { return *m_hit; }

  private:
    Step next_meta(int s, GuestAddr& fp, GuestAddr& pc, Source& source) {
        if (unconsumed_stack(fp, 24) != s) {
            return fail("metadata record {} does not fit on its stack", fp);
        }
        const std::optional<uint64_t> type = m_view.read_u64(fp + 16);
        if (!type) {
            return fail("metadata record at {} is unmapped", fp);
        }
        if (*type == uint64_t(FrameMetaType::Final)) {
            if (fp == m_view.final_record()) {
                return Step::End;
            }
            return fail("FINAL record at {} is not the task's pt_regs", fp);
        }
        if (*type != uint64_t(FrameMetaType::PtRegs)) {
            return fail("metadata record at {} has unknown type {}", fp, *type);
        }
        const GuestAddr regs = fp - int64_t(pt_regs::kStackframe);
        if (unconsumed_stack(regs, pt_regs::kSize) != s) {
            return fail("pt_regs at {} is not on the stack", regs);
        }
        const std::optional<uint64_t> regs_pc = m_view.read_u64(regs + int64_t(pt_regs::kPc));
        const std::optional<uint64_t> regs_fp = m_view.read_u64(regs + int64_t(pt_regs::kX29));
        if (!regs_pc || !regs_fp) {
            return fail("pt_regs at {} is unmapped", regs);
        }
        consume(s, regs + int64_t(pt_regs::kSize));
        fp = GuestAddr(*regs_fp);
        pc = strip_pac(GuestAddr(*regs_pc));
        source = Source::RegsPc;
        return recover(fp, pc) ? Step::Continue : Step::Error;
    }

    // The index of the known stack holding [addr, addr+size) above its consumed part, or -1.
    int unconsumed_stack(GuestAddr addr, uint64_t size) const {
        for (size_t i = 0; i < m_view.stacks.size(); ++i) {
            const GuestRange& r = m_view.stacks[i].range;
            if (addr >= m_low[i] && addr.value + size <= r.end.value &&
                addr.value + size > addr.value) {
                return int(i);
            }
        }
        return -1;
    }

    // Everything below `new_low` on stack s is consumed; leaving another stack consumes it all.
    void consume(int s, GuestAddr new_low) {
        if (m_current >= 0 && m_current != s) {
            m_low[size_t(m_current)] = m_view.stacks[size_t(m_current)].range.end;
        }
        m_current = s;
        m_low[size_t(s)] = new_low;
    }

    // The walk ends in error; the reason names the addresses only where someone reads it
    // (StackView::detailed_reasons), else it is the bare pattern.
    template <typename... Args> Step fail(fmt::format_string<Args...> why, Args&&... args) {
        if (m_view.detailed_reasons) {
            m_error = fmt::format(why, std::forward<Args>(args)...);
        } else {
            const fmt::string_view text = why;
            m_error.assign(text.data(), text.size());
        }
        return Step::Error;
    }

    const StackView& m_view;
    GraphRecovery m_graph;
    std::array<GuestAddr, 8> m_low{}; // Per known stack (the kernel has at most 5 kinds).
    int m_current = -1;
    std::string m_error;
    ChainCache* m_chain;
    bool m_reached = false;
    std::optional<ChainHit> m_hit;
};

// The first problem of a walk, and of its rest from the frame-chain memo's first key as if
// nothing before had gone wrong (what the memo keeps), with the step it arose in.
struct Problems {
    std::string whole;
    std::string rest;
    size_t rest_count = 0;
    void raise(const Walk& walk, size_t count, std::string_view why) {
        if (whole.empty()) {
            whole.assign(why);
        }
        if (walk.reached() && rest.empty()) {
            rest.assign(why);
            rest_count = count;
        }
    }
};

} // namespace

void KunwindUnwinder::unwind_into(const StackView& view, UnwindResult& result) const {
    result.clear();
    std::vector<GuestAddr>& out = result.return_addresses;
    Walk walk(view);
    GuestAddr fp = view.regs.fp;
    GuestAddr pc = strip_pac(view.regs.pc);
    Source source = view.stop == StopKind::Current ? Source::Caller : Source::Task;
    bool exception_boundary = false;
    bool rest_exception_boundary = false;
    Problems problems;
    constexpr std::string_view full = "the 100-entry trace buffer is full";
    static_assert(kMaxStackEntries == 100);

    Step step = Step::Continue;
    if (view.stop == StopKind::Interrupted) {
        // Another task's walk reaches the interrupted context through the PT_REGS record that
        // kernel_entry left at regs->stackframe, which x29 pointed to.
        fp = view.virtual_regs()->addr + int64_t(pt_regs::kStackframe);
        step = walk.next(fp, pc, source, 0);
    } else if (!walk.recover(fp, pc)) {
        step = Step::Error;
    }
    bool limited = false;
    while (step == Step::Continue) {
        // The reliable consumer (arch_stack_walk_reliable's arch_reliable_kunwind_consume_entry).
        if (source == Source::RegsPc &&
            (!exception_boundary || (walk.reached() && !rest_exception_boundary))) {
            const std::string why =
                view.detailed_reasons
                    ? fmt::format("exception boundary: pt_regs below {} (REGS_PC {})", fp, pc)
                    : std::string("exception boundary");
            if (!exception_boundary) {
                exception_boundary = true;
                if (problems.whole.empty()) {
                    problems.whole = why;
                }
            }
            if (walk.reached() && !rest_exception_boundary) {
                rest_exception_boundary = true;
                if (problems.rest.empty()) {
                    problems.rest = why;
                    problems.rest_count = out.size();
                }
            }
        }
        // stack_trace_consume_entry stores the entry, then answers `len < size`: the entry that
        // fills the MAX_STACK_ENTRIES buffer already stops the walk with -EINVAL, even when it
        // is the last one before the FINAL record.
        out.push_back(pc);
        if (out.size() == kMaxStackEntries) {
            problems.raise(walk, kMaxStackEntries, full);
            limited = true;
            break;
        }
        step = walk.next(fp, pc, source, out.size());
    }
    size_t count = out.size();
    if (step == Step::Rest) {
        const ChainHit& hit = walk.hit();
        out.insert(out.end(), hit.entries.begin(), hit.entries.end());
        count = hit.end_count;
        limited = hit.limited;
        // A reliable rest's reason says how it ended, not a problem.
        if (!hit.reliable && !hit.reason.empty()) {
            problems.raise(walk, hit.reason_count, hit.reason);
        } else if (hit.limited) {
            problems.raise(walk, count, full);
        }
        result.reliable = !hit.limited && hit.reliable && problems.whole.empty();
    } else {
        if (step == Step::Error) {
            problems.raise(walk, count, walk.error());
        }
        result.reliable = step == Step::End && problems.whole.empty();
    }
    const char* end = "reached the task's FINAL record";
    result.reason.assign(result.reliable ? std::string_view(end)
                                         : std::string_view(problems.whole));
    if (ChainCache* chain = walk.chain()) {
        const bool rest_reliable =
            !limited && problems.rest.empty() &&
            (step == Step::End || (step == Step::Rest && walk.hit().reliable));
        chain->finish(out, uint32_t(count), limited, rest_reliable,
                      rest_reliable ? std::string_view(end) : std::string_view(problems.rest),
                      uint32_t(problems.rest.empty() ? count : problems.rest_count));
    }
}

std::optional<GuestAddr> KunwindUnwinder::pc_class(GuestAddr pc, StopKind /*stop*/,
                                                   const PcFacts& facts) const {
    if (facts.return_to_handler && strip_pac(pc) == *facts.return_to_handler) {
        return pc;
    }
    return std::nullopt;
}

} // namespace klpemu::unwinder
