// See fp_naive.h. The only limits are the ones a host must add to stay alive: an unreadable
// record or a chain longer than any 16 KiB stack can hold (a loop) ends the walk unreliably.
#include "unwinder/fp_naive.h"

#include <fmt/format.h>

namespace klpemu::unwinder {

namespace {
// A 16 KiB stack holds at most 1024 records; more means the chain loops.
constexpr size_t kLoopLimit = 1024;
} // namespace

void FpNaiveUnwinder::unwind_into(const StackView& view, UnwindResult& result) const {
    result.clear();
    std::vector<GuestAddr>& out = result.return_addresses;
    out.push_back(view.regs.pc);
    ChainCache* chain = view.chain;
    // Ends the walk after `n` iterations: the rest from the chain memo's first key is the whole
    // of how it ended (nothing before a record changes what follows it).
    auto end = [&](size_t n, bool limited) {
        if (chain != nullptr) {
            chain->finish(out, uint32_t(n), limited, result.reliable, result.reason, uint32_t(n));
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
        if (fp.value == 0) {
            result.reliable = true;
            result.reason = "fp is 0";
            return end(n, false);
        }
        const std::optional<uint64_t> next_fp = view.read_u64(fp);
        const std::optional<uint64_t> lr = view.read_u64(fp + 8);
        if (!next_fp || !lr) {
            result.reason = fmt::format("frame record at {} is unmapped", fp);
            return end(n, false);
        }
        if (*lr != 0) {
            out.push_back(GuestAddr(*lr));
        }
        fp = GuestAddr(*next_fp);
    }
    result.reason = "frame record chain loops";
    return end(kLoopLimit, true);
}

} // namespace klpemu::unwinder
