// See fp_naive.h. The only limits are the ones a host must add to stay alive: an unreadable
// record or a chain longer than any 16 KiB stack can hold (a loop) ends the walk unreliably.
#include "unwinder/fp_naive.h"

#include <fmt/format.h>

namespace klpemu::unwinder {

namespace {
// A 16 KiB stack holds at most 1024 records; more means the chain loops.
constexpr size_t kLoopLimit = 1024;
} // namespace

UnwindResult FpNaiveUnwinder::unwind(const StackView& view) const {
    UnwindResult result;
    result.return_addresses.push_back(view.regs.pc);
    GuestAddr fp = view.regs.fp;
    for (size_t n = 0; n < kLoopLimit; ++n) {
        if (fp.value == 0) {
            result.reliable = true;
            result.reason = "fp is 0";
            return result;
        }
        const std::optional<uint64_t> next_fp = view.read_u64(fp);
        const std::optional<uint64_t> lr = view.read_u64(fp + 8);
        if (!next_fp || !lr) {
            result.reason = fmt::format("frame record at {} is unmapped", fp);
            return result;
        }
        if (*lr != 0) {
            result.return_addresses.push_back(GuestAddr(*lr));
        }
        fp = GuestAddr(*next_fp);
    }
    result.reason = "frame record chain loops";
    return result;
}

} // namespace klpemu::unwinder
