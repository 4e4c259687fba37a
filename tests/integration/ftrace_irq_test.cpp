// An interrupt may arrive at any instruction of a traced call, the trampoline included: the
// exception entry builds its pt_regs below SP on the same stack, so a trampoline that keeps
// anything there (regs-v3) is exposed, and every other must come out unchanged. One IRQ per
// call, stepped through every instruction of a function- and graph-traced call.
#include "ftrace_test_util.h"

#include <fmt/format.h>

using namespace klpemu;
using namespace klpemu::patcher;

TEST_CASE("ftrace irq: an interrupt at every instruction of a traced call changes nothing") {
    for (TrampolineVariant variant : {TrampolineVariant::RegsV4, TrampolineVariant::Regs,
                                      TrampolineVariant::Args, TrampolineVariant::CallOps}) {
        CAPTURE(trampoline_layout(variant).name);
        auto rig = test::make_ftrace_rig(variant, Compiler::Clang);
        emu::Machine& m = *rig.machine;
        REQUIRE(rig.ftrace->enable("leaf").ok());
        REQUIRE(rig.ftrace->enable("nonleaf", TracerKind::Graph).ok());
        const GuestAddr nonleaf = test::fn(m, "nonleaf");
        const uint64_t before = m.instructions();
        auto expected = m.call(nonleaf, {4});
        REQUIRE(expected.ok());
        const uint64_t length = m.instructions() - before;
        for (uint64_t k = 0; k < length; ++k) {
            m.schedule_irq(0, m.instructions() + k);
            auto r = m.call(nonleaf, {4});
            REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
            CHECK(*r == *expected);
        }
        CHECK(m.exceptions_taken(0) >= length);
        CHECK_MESSAGE(m.findings().empty(), test::findings_text(m));
    }
}
