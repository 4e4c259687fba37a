// The policy registry: the one place that maps a scenario's `unwinder = "..."` name to a model.
#include "unwinder/cfi_unwinder.h"
#include "unwinder/fp_naive.h"
#include "unwinder/kunwind.h"
#include "unwinder/seed_v4.h"
#include "unwinder/unwind_policy.h"

namespace klpemu::unwinder {

std::vector<std::string_view> policy_names() {
    return {"fp-naive", "seed-v4", "kunwind", "cfi"};
}

std::unique_ptr<UnwindPolicy> make_policy(std::string_view name) {
    if (name == "fp-naive") {
        return std::make_unique<FpNaiveUnwinder>();
    }
    if (name == "seed-v4") {
        return std::make_unique<SeedV4Unwinder>();
    }
    if (name == "kunwind") {
        return std::make_unique<KunwindUnwinder>();
    }
    if (name == "cfi") {
        return std::make_unique<CfiUnwinder>();
    }
    return nullptr;
}

} // namespace klpemu::unwinder
