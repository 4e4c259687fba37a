// Runs guest code under the per-step reliability checker (unwinder/machine_checker.h) for the
// checker's integration tests: `drive(calls)` of an assembled source, either called alone or run
// in two kthreads that timer IRQs preempt every `irq_period` instructions (host register writes
// at every switch and IRQ), with the incremental checker or the full-walk reference.
#pragma once

#include "machine_test_util.h"

#include "unwinder/machine_checker.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace klpemu::test {

struct CheckedRun {
    std::string summary;               // ReliabilityChecker::summary()
    std::vector<std::string> findings; // "where: message"
    uint64_t walks = 0;
    uint64_t chain_hits = 0;
    uint64_t frame_reg_reads = 0; // MachineChecker::frame_reg_reads()
};

inline CheckedRun run_checked(std::string_view source, bool full_walk, uint64_t calls,
                              uint64_t irq_period = 0) {
    emu::MachineConfig mcfg;
    mcfg.irq_timer_period = irq_period;
    auto m = make_machine(mcfg);
    load_asm(*m, source);
    unwinder::CheckerConfig cfg;
    cfg.full_walk = full_walk;
    unwinder::MachineChecker mc(*m, cfg, nullptr);
    if (irq_period == 0) {
        auto r = m->call(sym(*m, "drive"), {calls});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    } else {
        for (const char* name : {"a", "b"}) {
            REQUIRE(m->create_task({name, emu::TaskKind::Kthread, sym(*m, "drive"), {calls}, 0, 1})
                        .ok());
        }
        auto r = m->run(5'000'000);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        REQUIRE(r->reason == emu::StopReason::AllTasksFinished);
        REQUIRE(m->exceptions_taken(0) > 10);
    }
    CheckedRun out;
    out.summary = mc.checker().summary();
    for (const auto& f : mc.checker().findings()) {
        out.findings.push_back(f.where + ": " + f.message);
    }
    out.walks = mc.checker().walks();
    out.chain_hits = mc.checker().chain_hits();
    out.frame_reg_reads = mc.frame_reg_reads();
    return out;
}

} // namespace klpemu::test
