// The frame-chain memo (unwinder/chain_memo.h) must not change any policy's answer: on deep
// chains (past livepatch's 100-entry buffer and short of it, with and without an exception frame
// in the middle), walked from every record inward and outward so that rests are taken at other
// step counts than they were recorded at, and again after a record in the middle was changed
// and put back, every policy's entries, verdict and reason equal a walk without the memo.
#include "unwind_synthetic_stack.h"

#include "unwinder/chain_memo.h"
#include "unwinder/unwind_policy.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::unwinder;
using namespace klpemu::unwinder::test;

namespace {

// Records every read of the task stack, as the checker's walk memo does.
class Recorder final : public MemoryReader {
  public:
    Recorder(const MemoryReader& inner, GuestRange stack) : m_inner(inner), m_stack(stack) {}
    std::optional<uint64_t> read_u64(GuestAddr addr) const override {
        const std::optional<uint64_t> v = m_inner.read_u64(addr);
        if (v && addr >= m_stack.begin && addr.value + 8 <= m_stack.end.value) {
            reads.push_back(addr);
            values.push_back(*v);
        } else {
            ++outside;
        }
        return v;
    }
    const uint8_t* host_bytes(GuestAddr addr, uint64_t size) const override {
        return m_inner.host_bytes(addr, size);
    }
    mutable std::vector<GuestAddr> reads;
    mutable std::vector<uint64_t> values;
    mutable uint64_t outside = 0;

  private:
    const MemoryReader& m_inner;
    GuestRange m_stack;
};

// ret_from_fork -> A -> A -> ... (n records), optionally with an exception frame (B interrupted)
// between record m-1 and record m.
struct DeepChain {
    SyntheticStack s;
    CfiTable cfi;
    std::vector<GuestAddr> recs; // Outermost first.

    DeepChain(size_t n, std::optional<size_t> exception_at) {
        for (GuestAddr f : {kFuncA, kFuncB}) {
            cfi.add_rows(standard_frame_cfi(f));
        }
        GuestAddr at = s.pt_regs() - 16;
        recs.push_back(s.record(at, s.final_record(), kRetFromForkRet));
        for (size_t k = 1; k < n; ++k) {
            at = at - 32;
            GuestAddr caller = recs.back();
            if (exception_at && k == *exception_at) {
                const GuestAddr regs = at - int64_t(pt_regs::kSize);
                caller = s.exception_frame(
                    regs, Registers{kFuncB + 0x10, kFuncA + 0x20, recs.back(), regs + 336});
                at = regs - 32;
            }
            recs.push_back(s.record(at, caller, kFuncA + 0x20));
        }
    }
};

struct Answer {
    bool reliable;
    std::string reason;
    std::vector<GuestAddr> entries;
    bool operator==(const Answer&) const = default;
};

Answer answer(const UnwindResult& r) {
    return {r.reliable, r.reason, r.return_addresses};
}

// Walks every policy from every record, innermost to outermost and back, with and without the
// memo; returns the rests taken from the memo.
uint64_t compare_all(DeepChain& c, ChainMemo& memo, StackShadow& shadow) {
    const std::span<const KnownStack> task_only = c.s.stacks().first(1);
    const GuestRange range = task_only.front().range;
    ChainWalk::Scratch scratch;
    uint64_t hits = 0;
    std::vector<size_t> order;
    for (size_t k = c.recs.size(); k-- > 0;) {
        order.push_back(k);
    }
    for (size_t k = 0; k < c.recs.size(); ++k) {
        order.push_back(k);
    }
    for (size_t p = 0; p < policy_names().size(); ++p) {
        const auto policy = make_policy(policy_names()[p]);
        for (size_t k : order) {
            const GuestAddr rec = c.recs[k];
            for (const bool interrupted : {false, true}) {
                const Registers regs = interrupted
                                           ? Registers{kFuncA + 0x40, kFuncA + 0x20, rec, rec}
                                           : Registers{kFuncA + 0x20, GuestAddr(), rec, rec};
                auto view_over = [&](const MemoryReader& m) {
                    StackView v = interrupted
                                      ? StackView::interrupted(regs, m, task_only, c.s.pt_regs())
                                      : StackView::blocked(regs, m, task_only, c.s.pt_regs());
                    v.cfi = &c.cfi;
                    v.bottom_return_addresses = std::span<const GuestAddr>(&kRetFromForkRet, 1);
                    return v;
                };
                const Answer plain = answer(policy->unwind(view_over(c.s.memory())));
                Recorder rec_memory(c.s.memory(), range);
                StackView v = view_over(rec_memory);
                ChainWalk walk(memo, ChainMemo::Key{1, uint32_t(p), {}}, shadow, c.s.memory(),
                               rec_memory.reads, rec_memory.values, rec_memory.outside, scratch);
                v.chain = &walk;
                const Answer memoised = answer(policy->unwind(v));
                CAPTURE(policy->name());
                CAPTURE(k);
                CAPTURE(interrupted);
                CAPTURE(plain.reason);
                CAPTURE(memoised.reason);
                CHECK(memoised == plain);
                hits += walk.hits();
            }
        }
    }
    return hits;
}

} // namespace

TEST_CASE("chain memo: every policy answers as without it, before and after a record changes") {
    for (const size_t depth : {30, 150}) {
        for (const std::optional<size_t> exception_at :
             {std::optional<size_t>(), std::optional<size_t>(12)}) {
            CAPTURE(depth);
            CAPTURE(exception_at.has_value());
            DeepChain c(depth, exception_at);
            StackStoreTracker tracker(c.s.memory());
            StackShadow& shadow = *tracker.track(c.s.stacks().front().range);
            ChainMemo memo;
            CHECK(compare_all(c, memo, shadow) > 0);
            CHECK(memo.size() > 0);

            // A record in the middle now returns elsewhere (the host wrote it): every rest
            // through it must be walked again.
            const GuestAddr mid = c.recs[depth / 2];
            c.s.write(mid + 8, (kFuncB + 0x14).value);
            tracker.host_work();
            tracker.bring_up_to_date(shadow);
            CHECK(compare_all(c, memo, shadow) > 0);
            c.s.write(mid + 8, (kFuncA + 0x20).value);
            tracker.host_work();
            tracker.bring_up_to_date(shadow);
            CHECK(compare_all(c, memo, shadow) > 0);
        }
    }
}

TEST_CASE("chain memo: bounded by its word budget") {
    DeepChain c(150, std::nullopt);
    StackStoreTracker tracker(c.s.memory());
    StackShadow& shadow = *tracker.track(c.s.stacks().front().range);
    ChainMemo memo(4096, 64);
    compare_all(c, memo, shadow);
    CHECK((memo.words() <= 4096 || memo.size() == 1));
    CHECK(memo.size() <= 64);
}
