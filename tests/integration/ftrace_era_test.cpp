// The kernel era decides the call-site state machine and the patched entry (emu/kernel_era.h):
// the posted v3/v4 series wrote `mov x9, lr` into a live site at enable time and reverted it at
// disable (a write outside the CMODX-safe set, which TextPoke must report), v5.5..v6.1 patch
// ftrace_caller unless an ops on the site asks for SAVE_REGS, then ftrace_regs_caller; up to
// v5.19 the graph tracer enters through ftrace_graph_call, patched to `b ftrace_graph_caller`.
#include "emu/insn_encoding.h"
#include "ftrace_test_util.h"
#include "patcher/ftrace_callsite.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

InsnWord word_at(const emu::Machine& m, GuestAddr pc) {
    uint32_t raw = 0;
    REQUIRE(m.memory().read(pc, &raw, sizeof raw).ok());
    return InsnWord(raw);
}

const PatchSite& site_of(const test::FtraceRig& rig, std::string_view function) {
    for (const PatchSite& p : rig.object.patch_sites) {
        if (p.function == function) {
            return p;
        }
    }
    FAIL("no call site for " << function);
    return rig.object.patch_sites.front();
}

GuestAddr target_of(const Ftrace& ftrace, std::string_view function) {
    for (const auto& s : ftrace.sites()) {
        if (s.site.function == function) {
            return s.target;
        }
    }
    FAIL("no call site for " << function);
    return {};
}

} // namespace

TEST_CASE("era 4.19-v4: mov x9, lr is written at enable and reverted at disable") {
    emu::MachineConfig config;
    config.cpus = 2;
    auto rig = test::make_ftrace_rig(TrampolineVariant::RegsV4, Compiler::Clang, config,
                                     emu::KernelEra::V4_19_v4);
    emu::Machine& m = *rig.machine;
    const PatchSite& leaf = site_of(rig, "leaf");
    // Nothing is written when the object arrives: both words stay NOPs.
    CHECK(word_at(m, leaf.first_nop) == kNop);
    CHECK(word_at(m, leaf.rec_ip) == kNop);
    auto before = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(before.ok());

    REQUIRE(rig.ftrace->enable("leaf").ok());
    CHECK(word_at(m, leaf.first_nop) == kMovX9X30);
    const auto log = rig.ftrace->patch_log();
    REQUIRE(log.size() >= 2);
    CHECK(log[log.size() - 2].find("nop -> mov x9, x30") != std::string::npos);
    CHECK(log.back().find("nop -> bl ftrace_regs_caller") != std::string::npos);
    // The MOV went into text that had run, while the other CPU may execute it.
    CHECK(test::findings_of(m, "cmodx-unsafe").size() == 1);
    CHECK(test::findings_of(m, "mov-slot-rewritten").size() == 1);

    auto traced = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(traced.ok());
    CHECK(*traced == *before);

    REQUIRE(rig.ftrace->disable("leaf").ok());
    CHECK(word_at(m, leaf.first_nop) == kNop);
    CHECK(word_at(m, leaf.rec_ip) == kNop);
    CHECK(test::findings_of(m, "cmodx-unsafe").size() == 2);
}

TEST_CASE("era 6.17: the MOV is written once at init and never again") {
    emu::MachineConfig config;
    config.cpus = 2;
    auto rig = test::make_ftrace_rig(TrampolineVariant::Args, Compiler::Clang, config,
                                     emu::KernelEra::V6_17);
    emu::Machine& m = *rig.machine;
    const PatchSite& leaf = site_of(rig, "leaf");
    CHECK(word_at(m, leaf.first_nop) == kMovX9X30);
    REQUIRE(m.call(test::fn(m, "nonleaf"), {4}).ok());
    REQUIRE(rig.ftrace->enable("leaf").ok());
    REQUIRE(rig.ftrace->disable("leaf").ok());
    CHECK(word_at(m, leaf.first_nop) == kMovX9X30);
    CHECK(test::findings_of(m, "cmodx-unsafe").empty());
    CHECK(test::findings_of(m, "mov-slot-rewritten").empty());
}

TEST_CASE("era 5.5: ftrace_caller unless an ops on the site asks for SAVE_REGS") {
    auto rig =
        test::make_ftrace_rig(TrampolineVariant::Regs, Compiler::Clang, {}, emu::KernelEra::V5_5);
    emu::Machine& m = *rig.machine;
    const GuestAddr caller = test::fn(m, "ftrace_caller");
    const GuestAddr regs_caller = test::fn(m, "ftrace_regs_caller");
    auto before = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(before.ok());

    REQUIRE(rig.ftrace->enable("leaf").ok());
    CHECK(target_of(*rig.ftrace, "leaf") == caller);
    auto traced = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(traced.ok());
    CHECK(*traced == *before);

    int regs_calls = 0;
    FtraceOps ops;
    ops.name = "regs";
    ops.flags.set(FtraceOpsFlag::SaveRegs);
    ops.filter = FtraceFilter("leaf");
    ops.func = [&](FtraceCall&) { ++regs_calls; };
    auto id = rig.ftrace->register_ops(std::move(ops));
    REQUIRE(id.ok());
    // ftrace_modify_call: BL ftrace_caller -> BL ftrace_regs_caller.
    CHECK(target_of(*rig.ftrace, "leaf") == regs_caller);
    CHECK(rig.ftrace->patch_log().back().find("bl ftrace_caller -> bl ftrace_regs_caller") !=
          std::string::npos);
    traced = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(traced.ok());
    CHECK(*traced == *before);
    CHECK(regs_calls == 2);

    REQUIRE(rig.ftrace->unregister_ops(*id).ok());
    REQUIRE(rig.ftrace->update_sites().ok());
    CHECK(target_of(*rig.ftrace, "leaf") == caller);
    CHECK_MESSAGE(test::findings_of(m, "abi-clobber").empty(), test::findings_text(m));
}

TEST_CASE("era 6.17 on the regs trampoline keeps one entry") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::Regs, Compiler::Clang);
    REQUIRE(rig.ftrace->enable("leaf").ok());
    CHECK(target_of(*rig.ftrace, "leaf") == test::fn(*rig.machine, "ftrace_regs_caller"));
}

TEST_CASE(
    "every era's return_to_handler reserves its own frame and the graph tracer returns right") {
    // Up to v6.4 x0..x7 in 64 bytes and ftrace_return_to_handler(x29); v6.5..v6.12 a struct
    // fgraph_ret_regs (80 bytes, fp at 64); v6.13+ a struct ftrace_regs (112, fp at 80). A
    // graph-traced call chain must return its value through each, with HAVE_FUNCTION_GRAPH_FP_TEST
    // satisfied (no fgraph-mismatch): the host reads the fp where the era put it.
    struct Case {
        emu::KernelEra era;
        TrampolineVariant variant;
        uint32_t frame;
    };
    for (const Case c : {Case{emu::KernelEra::V5_5, TrampolineVariant::Regs, 64},
                         Case{emu::KernelEra::V6_5, TrampolineVariant::Args, 80},
                         Case{emu::KernelEra::V6_17, TrampolineVariant::Args, 112}}) {
        CAPTURE(emu::era_info(c.era).name);
        auto rig = test::make_ftrace_rig(c.variant, Compiler::Clang, {}, c.era);
        emu::Machine& m = *rig.machine;
        // sub sp, sp, #frame
        CHECK(word_at(m, test::fn(m, "return_to_handler")) ==
              InsnWord(0xd10003ffu | (c.frame << 10)));
        auto plain = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(plain.ok());
        REQUIRE(rig.ftrace->enable("*leaf", TracerKind::Graph).ok());
        auto traced = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(traced.ok());
        CHECK(*traced == *plain);
        CHECK_MESSAGE(m.findings().empty(), test::findings_text(m));
    }
}

TEST_CASE("up to v5.19 the graph tracer enters through ftrace_graph_call, patched to a branch") {
    // ftrace_enable_ftrace_graph_caller: the trampoline's ftrace_graph_call NOP becomes
    // `b ftrace_graph_caller`, which calls prepare_ftrace_return(ip, &saved lr, fp); the graph
    // ops itself is ftrace_stub. Disabling writes the NOP back. v6.0 dropped the site (the
    // graph tracer became an ops, ftrace_graph_func), so 6.1's `regs` has no such label.
    struct Case {
        emu::KernelEra era;
        TrampolineVariant variant;
    };
    for (const Case c : {Case{emu::KernelEra::V4_19_v3, TrampolineVariant::RegsV3},
                         Case{emu::KernelEra::V4_19_v4, TrampolineVariant::RegsV4},
                         Case{emu::KernelEra::V5_5, TrampolineVariant::Regs},
                         Case{emu::KernelEra::V5_10, TrampolineVariant::Regs}}) {
        CAPTURE(emu::era_info(c.era).name);
        auto rig = test::make_ftrace_rig(c.variant, Compiler::Clang, {}, c.era);
        emu::Machine& m = *rig.machine;
        const GuestAddr graph_call = test::fn(m, "ftrace_graph_call");
        const GuestAddr graph_caller = test::fn(m, "ftrace_graph_caller");
        CHECK(word_at(m, graph_call) == kNop);
        auto plain = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(plain.ok());

        REQUIRE(rig.ftrace->enable("*leaf", TracerKind::Graph).ok());
        CHECK(rig.ftrace->graph_by_caller());
        auto branch = a64::b(graph_call, graph_caller);
        REQUIRE(branch.ok());
        CHECK(word_at(m, graph_call) == *branch);
        bool logged = false;
        for (const std::string& line : rig.ftrace->patch_log()) {
            logged = logged || (line.find("ftrace_graph_call") != std::string::npos &&
                                line.find("nop -> b ftrace_graph_caller") != std::string::npos);
        }
        CHECK_MESSAGE(logged, fmt::format("{}", fmt::join(rig.ftrace->patch_log(), "\n")));

        // Every instruction of the traced call, the graph caller's included, may take an IRQ.
        const uint64_t before = m.instructions();
        auto traced = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(traced.ok());
        CHECK(*traced == *plain);
        const uint64_t length = m.instructions() - before;
        for (uint64_t k = 0; k < length; k += 3) {
            m.schedule_irq(0, m.instructions() + k);
            auto r = m.call(test::fn(m, "nonleaf"), {4});
            REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
            CHECK(*r == *plain);
        }
        // The graph tracer saw leaf and nonleaf enter and return (trace lines name them).
        size_t leaf_lines = 0;
        for (const std::string& line : rig.ftrace->trace()) {
            leaf_lines += line.find("leaf") != std::string::npos ? 1 : 0;
        }
        CHECK(leaf_lines > 0);
        CHECK_MESSAGE(test::findings_of(m, "fgraph-mismatch").empty(), test::findings_text(m));
        CHECK_MESSAGE(test::findings_of(m, "not-modelled").empty(), test::findings_text(m));

        REQUIRE(rig.ftrace->disable("*leaf").ok());
        CHECK(word_at(m, graph_call) == kNop);
        auto after = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(after.ok());
        CHECK(*after == *plain);
    }
}

TEST_CASE("6.1's regs trampoline has no ftrace_graph_call: the graph tracer is an ops") {
    auto rig =
        test::make_ftrace_rig(TrampolineVariant::Regs, Compiler::Clang, {}, emu::KernelEra::V6_1);
    emu::Machine& m = *rig.machine;
    CHECK_FALSE(m.symbol("ftrace_graph_call").ok());
    CHECK_FALSE(m.symbol("prepare_ftrace_return").ok());
    auto plain = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(plain.ok());
    REQUIRE(rig.ftrace->enable("*leaf", TracerKind::Graph).ok());
    CHECK_FALSE(rig.ftrace->graph_by_caller());
    auto traced = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(traced.ok());
    CHECK(*traced == *plain);
    CHECK_MESSAGE(test::findings_of(m, "fgraph-mismatch").empty(), test::findings_text(m));
}
