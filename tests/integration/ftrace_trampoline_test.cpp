// Every trampoline variant traces a call chain compiled by clang and by gcc (leaf, non-leaf,
// tail call, varargs, eleven arguments, an x8 indirect result, recursion): the function
// tracer's lines are right, results equal the untraced run, and the only finding is regs-v3's
// store below SP. The graph tracer over a five-deep chain nests its entry/exit lines.
#include "ftrace_test_util.h"

#include <fmt/format.h>

using namespace klpemu;
using namespace klpemu::patcher;
using klpemu::test::count_ending;

namespace {

constexpr std::array kVariants{TrampolineVariant::RegsV3, TrampolineVariant::RegsV4,
                               TrampolineVariant::Regs, TrampolineVariant::Args,
                               TrampolineVariant::CallOps};

void check_findings(const emu::Machine& m, TrampolineVariant variant) {
    if (variant == TrampolineVariant::RegsV3) {
        auto below = test::findings_of(m, "store-below-sp");
        REQUIRE_MESSAGE(below.size() == 1, test::findings_text(m));
        CHECK(below[0].where == "ftrace_regs_caller+0x4");
        CHECK_MESSAGE(m.findings().size() == 1, test::findings_text(m));
    } else {
        CHECK_MESSAGE(m.findings().empty(), test::findings_text(m));
    }
}

} // namespace

TEST_CASE("ftrace: every variant traces the chain from clang and gcc") {
    for (Compiler compiler : {Compiler::Clang, Compiler::Gcc}) {
        for (TrampolineVariant variant : kVariants) {
            const std::string name = fmt::format("{} / {}", trampoline_layout(variant).name,
                                                 test::compiler_name(compiler));
            CAPTURE(name);
            auto rig = test::make_ftrace_rig(variant, compiler);
            emu::Machine& m = *rig.machine;
            const GuestAddr chain_main = test::fn(m, "chain_main");
            auto untraced = m.call(chain_main, {5});
            REQUIRE_MESSAGE(untraced.ok(), (untraced.ok() ? "" : untraced.error().message));

            REQUIRE(rig.ftrace->enable("leaf nonleaf tail sum_va many make_big chain_main").ok());
            CHECK(rig.ftrace->site_state("leaf") == CallSiteState::On);
            CHECK(rig.ftrace->site_state("fib") == CallSiteState::Off);
            auto traced = m.call(chain_main, {5});
            REQUIRE_MESSAGE(traced.ok(), (traced.ok() ? "" : traced.error().message));
            CHECK(*traced == *untraced);

            const auto& trace = rig.ftrace->trace();
            CHECK_MESSAGE(trace.size() == 9, fmt::format("{}", fmt::join(trace, "\n")));
            CHECK(count_ending(trace, "] chain_main <-ret_from_fork") == 1);
            CHECK(count_ending(trace, "] make_big <-chain_main") == 1);
            CHECK(count_ending(trace, "] nonleaf <-chain_main") == 1);
            CHECK(count_ending(trace, "] leaf <-nonleaf") == 2);
            CHECK(count_ending(trace, "] tail <-chain_main") == 1);
            // tail() ends in `b leaf` with the caller's LR restored: leaf's parent is chain_main.
            CHECK(count_ending(trace, "] leaf <-chain_main") == 1);
            CHECK(count_ending(trace, "] sum_va <-chain_main") == 1);
            CHECK(count_ending(trace, "] many <-chain_main") == 1);

            // Recursion, traced on its own.
            rig.ftrace->clear_trace();
            REQUIRE(rig.ftrace->disable("*").ok());
            CHECK(rig.ftrace->site_state("leaf") == CallSiteState::Off);
            REQUIRE(rig.ftrace->enable("fib").ok());
            auto again = m.call(chain_main, {5});
            REQUIRE(again.ok());
            CHECK(*again == *untraced);
            CHECK(trace.size() >= 2);
            CHECK(count_ending(trace, "] fib <-chain_main") == 1);
            CHECK(count_ending(trace, "] fib <-fib") == trace.size() - 1);
            REQUIRE(rig.ftrace->disable("fib").ok());
            check_findings(m, variant);
        }
    }
}

TEST_CASE("ftrace: the graph tracer nests a five-deep chain and keeps results") {
    for (Compiler compiler : {Compiler::Clang, Compiler::Gcc}) {
        for (TrampolineVariant variant : kVariants) {
            const std::string name = fmt::format("{} / {}", trampoline_layout(variant).name,
                                                 test::compiler_name(compiler));
            CAPTURE(name);
            auto rig = test::make_ftrace_rig(variant, compiler);
            emu::Machine& m = *rig.machine;
            const GuestAddr g1 = test::fn(m, "g1");
            auto untraced = m.call(g1, {3});
            REQUIRE(untraced.ok());
            REQUIRE(rig.ftrace->enable("g?", TracerKind::Graph).ok());
            auto traced = m.call(g1, {3});
            REQUIRE_MESSAGE(traced.ok(), (traced.ok() ? "" : traced.error().message));
            CHECK(*traced == *untraced);

            const auto& trace = rig.ftrace->trace();
            REQUIRE_MESSAGE(trace.size() == 10, fmt::format("{}", fmt::join(trace, "\n")));
            for (int depth = 0; depth < 5; ++depth) {
                const std::string f = fmt::format("g{}", depth + 1);
                const std::string indent(size_t(2 * depth), ' ');
                const std::string& entry = trace[size_t(depth)];
                const std::string& exit = trace[size_t(9 - depth)];
                CHECK(entry.ends_with("| " + indent + f + "() {"));
                CHECK(exit.ends_with("| " + indent + "} /* " + f + " */"));
                CHECK(exit.find(" cycles ") != std::string::npos);
            }
            REQUIRE(rig.ftrace->disable("g*").ok());
            check_findings(m, variant);
        }
    }
}
