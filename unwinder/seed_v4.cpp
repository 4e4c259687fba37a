// See seed_v4.h.
//
//   fp -> [fp+0] caller's fp   must be 16-aligned (4.19's `fp & 0xf`) and on a known stack
//         [fp+8] return addr   return_to_handler -> the next ret_stack entry from the top
//   {0, 0}                     an end, reliable: where an EL0 entry left the chain
//   {0, LR}                    the end where a task starts with x29 = 0 (4.19..5.13): reliable
//                              iff LR is the bottom LR (kthread_return_to_user)
#include "unwinder/seed_v4.h"

#include "unwinder/fgraph_recovery.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::unwinder {

namespace {
constexpr size_t kLoopLimit = 1024;
} // namespace

void SeedV4Unwinder::unwind_into(const StackView& view, UnwindResult& result) const {
    result.clear();
    std::vector<GuestAddr>& out = result.return_addresses;
    out.push_back(view.regs.pc);
    GraphRecovery graph(view.graph, view.return_to_handler);
    ChainCache* chain = view.chain;
    auto end = [&](size_t n, bool limited) {
        if (chain != nullptr) {
            chain->finish(out, uint32_t(n), limited, result.reliable, result.reason, uint32_t(n),
                          /*storable=*/true);
        }
    };
    GuestAddr fp = view.regs.fp;
    for (size_t n = 0; n < kLoopLimit; ++n) {
        if (chain != nullptr) {
            chain->step(uint32_t(n), out.size());
            if (const std::optional<ChainHit> hit = chain->reach(ChainKey{fp.value}, kLoopLimit)) {
                out.insert(out.end(), hit->entries.begin(), hit->entries.end());
                result.reliable = hit->reliable;
                result.reason.assign(hit->limited ? "frame record chain loops" : hit->reason);
                return end(hit->end_count, hit->limited);
            }
        }
        if (!fp.is_aligned(16)) {
            result.reason = fmt::format("misaligned fp {} (v4 wants 16-byte frame records)", fp);
            return end(n, false);
        }
        if (view.stack_containing(fp, 16) == nullptr) {
            result.reason = fmt::format("fp {} is not on an accessible stack", fp);
            return end(n, false);
        }
        const std::optional<uint64_t> next_fp = view.read_u64(fp);
        const std::optional<uint64_t> lr = view.read_u64(fp + 8);
        if (!next_fp || !lr) {
            result.reason = fmt::format("frame record at {} is unmapped", fp);
            return end(n, false);
        }
        if (*next_fp == 0 && *lr == 0) {
            // 4.19's unwind_frame stops at {0, 0} ("frames created upon entry from EL0"); v4
            // took that end as reliable wherever it met it.
            result.reliable = true;
            result.reason = "reached a {0, 0} record";
            return end(n, false);
        }
        GuestAddr pc(*lr);
        if (graph.is_hijacked(pc)) {
            const std::optional<GuestAddr> orig = graph.recover_by_index();
            if (!orig) {
                result.reason =
                    fmt::format("return_to_handler at {} but ret_stack is used up", fp + 8);
                return end(n, false);
            }
            pc = *orig;
        }
        out.push_back(pc);
        if (*next_fp == 0) {
            // 4.19..5.13's task bottom: the thread function's own record {0, LR}, its x29
            // having been 0 when ret_from_fork called it. v4 compared that LR with the
            // kthread-bottom symbol. The verdict reads this record alone.
            const auto& bottoms = view.bottom_return_addresses;
            if (std::find(bottoms.begin(), bottoms.end(), pc) != bottoms.end()) {
                result.reliable = true;
                result.reason = "reached the kthread bottom (x29 = 0)";
            } else {
                result.reason = fmt::format("chain ends at {} (fp 0) returning to {}, not at the "
                                            "kthread bottom",
                                            fp, pc);
            }
            return end(n, false);
        }
        fp = GuestAddr(*next_fp);
    }
    result.reason = "frame record chain loops";
    return end(kLoopLimit, true);
}

} // namespace klpemu::unwinder
