// `klpemu run --policies all --format json` over the whole bundled scenario library: the
// soundness promise of the two unwinders livepatch may rely on. kunwind (v6.13+/v6.17) and the
// cfi policy must never call a wrong trace reliable at any instruction boundary of any bundled
// scenario that runs a 6.17 kernel (older eras' exception entry has no metadata record); the JSON stats also show the checker really ran and that the unwind scenarios
// reach the states they describe (reliable and correct counts where they claim recovery).
#include "support/subprocess.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using klpemu::test::run_process;

namespace {

// The "unwind" stats of the scenario whose file ends with `suffix`.
const nlohmann::json* unwind_of(const nlohmann::json& doc, const std::string& suffix) {
    for (const auto& s : doc["scenarios"]) {
        const std::string file = s["file"];
        if (file.size() >= suffix.size() &&
            file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0) {
            return &s["stats"]["unwind"];
        }
    }
    return nullptr;
}

} // namespace

TEST_CASE("kunwind and cfi are never unsound anywhere in the bundled library") {
    const auto r = run_process({KLPEMU_BINARY, "run", "--policies", "all", "--format", "json"});
    INFO(r.err);
    REQUIRE(r.exit_status == 0); // Observed policies never change a verdict.
    const auto doc = nlohmann::json::parse(r.out);
    REQUIRE(doc["scenarios"].size() > 20);
    for (const auto& s : doc["scenarios"]) {
        CAPTURE(s["file"].get<std::string>());
        if (s["status"] == "skip") {
            continue; // Never run (test-kprobe: arm64 has no KPROBES_ON_FTRACE).
        }
        REQUIRE(s["stats"].contains("unwind"));
        const auto& u = s["stats"]["unwind"];
        REQUIRE(u.size() == 4);
        CHECK(u["kunwind"]["checked"].get<uint64_t>() > 0);
        // The promise rests on 6.13+'s metadata records: on an older era's exception entry,
        // kunwind walks through {x29, ELR} like any frame-pointer walk (it is saved from a wrong
        // verdict there only because such a task's stack has no FINAL record to end at).
        if (s["kernel"] != "6.17") {
            continue;
        }
        CHECK(u["kunwind"]["unsound"].get<uint64_t>() == 0);
        CHECK(u["cfi"]["unsound"].get<uint64_t>() == 0);
        CHECK(u["kunwind"]["unsound_at"].empty());
        CHECK(u["cfi"]["unsound_at"].empty());
    }

    // fp-naive is wrong at Window A and says where.
    const auto* mark = unwind_of(doc, "seed/mark-windows-args.toml");
    REQUIRE(mark != nullptr);
    CHECK((*mark)["fp-naive"]["asserted"] == true);
    bool window_a = false;
    for (const auto& at : (*mark)["fp-naive"]["unsound_at"]) {
        window_a = window_a || at["where"] == "ftrace_caller";
    }
    CHECK(window_a);
    // The per-function rows (the --report unwind table) say the same of ftrace_caller.
    CHECK((*mark)["fp-naive"]["functions"]["ftrace_caller"]["unsound"].get<uint64_t>() > 0);
    CHECK((*mark)["kunwind"]["functions"]["ftrace_caller"]["unsound"].get<uint64_t>() == 0);

    // The same IRQ preemption: on 4.19's entry code seed-v4 walks through {x29, ELR} and misses
    // the caller the interrupted prologue had in x30; on 6.17's kunwind stops at the PT_REGS
    // record.
    const auto* chain = unwind_of(doc, "unwind/irq-chain-4.19.toml");
    REQUIRE(chain != nullptr);
    CHECK((*chain)["seed-v4"]["unsound"].get<uint64_t>() > 0);
    const auto* meta = unwind_of(doc, "unwind/irq-meta-6.17.toml");
    REQUIRE(meta != nullptr);
    CHECK((*meta)["kunwind"]["unsound"].get<uint64_t>() == 0);
    CHECK((*meta)["kunwind"]["unreliable"].get<uint64_t>() > 0);

    // Recovery through the ret_stack, deep stacks, CFI across an exception boundary.
    const auto* graph = unwind_of(doc, "unwind/graph-recovery.toml");
    REQUIRE(graph != nullptr);
    CHECK((*graph)["kunwind"]["reliable_correct"].get<uint64_t>() >= 2);
    const auto* cfi = unwind_of(doc, "unwind/cfi-irq-prologue.toml");
    REQUIRE(cfi != nullptr);
    CHECK((*cfi)["cfi"]["unreliable"].get<uint64_t>() == 0);
    CHECK((*cfi)["cfi"]["reliable_correct"].get<uint64_t>() > 100);
}
