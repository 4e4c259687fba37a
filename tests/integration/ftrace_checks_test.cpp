// Each ftrace check fires on the defect it names: abi-clobber (a callback that clobbers a
// callee-saved register), fgraph-mismatch (a function that returns with another x29),
// bl-out-of-range and brk-at-callsite (a far module with no ftrace PLT, with and without the
// pre-a7ed7b9d0ebb BRK behaviour).
#include "ftrace_test_util.h"

#include <fmt/format.h>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

// A traceable function (patchable entry recorded by hand) that returns with x29 cleared.
constexpr std::string_view kBadFp = R"(
    .text
    .globl  bad_fp
    .type   bad_fp, %function
    .balign 8
bad_fp:
    nop
    nop
    mov     x29, xzr
    mov     x0, #7
    ret
    .size   bad_fp, . - bad_fp
    .section __patchable_function_entries, "awo", @progbits, bad_fp
    .balign 8
    .quad   bad_fp
)";

// The same shape, placed as a far module.
constexpr std::string_view kFar = R"(
    .text
    .globl  far_fn
    .type   far_fn, %function
    .balign 8
far_fn:
    nop
    nop
    mov     x0, #9
    ret
    .size   far_fn, . - far_fn
    .section __patchable_function_entries, "awo", @progbits, far_fn
    .balign 8
    .quad   far_fn
)";

} // namespace

TEST_CASE("ftrace checks: a callback clobbering x19 is abi-clobber") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::Args, Compiler::Clang);
    emu::Machine& m = *rig.machine;
    FtraceOps ops;
    ops.name = "clobber";
    ops.filter = FtraceFilter("leaf");
    ops.func = [](FtraceCall& call) { call.host.set_reg(19, 0xdead); };
    REQUIRE(rig.ftrace->register_ops(std::move(ops)).ok());
    (void)m.call(test::fn(m, "nonleaf"), {4});
    auto clobbers = test::findings_of(m, "abi-clobber");
    REQUIRE_MESSAGE(!clobbers.empty(), test::findings_text(m));
    CHECK(clobbers[0].where == "ftrace_caller_ret");
    CHECK(clobbers[0].message.find("x19 0xdead") != std::string::npos);
    CHECK(clobbers[0].message.find("returns to leaf+0x8") != std::string::npos);
}

TEST_CASE("ftrace checks: a redirected pc is not abi-clobber") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::Args, Compiler::Clang);
    emu::Machine& m = *rig.machine;
    const GuestAddr g5 = test::fn(m, "g5");
    FtraceOps ops;
    ops.name = "redirect";
    ops.filter = FtraceFilter("g4");
    // Livepatch-style: run g5 instead of g4 (past its call site, as klp_arch_set_pc would).
    ops.func = [g5](FtraceCall& call) { call.regs.set_pc(g5 + 8); };
    REQUIRE(rig.ftrace->register_ops(std::move(ops)).ok());
    auto r = m.call(test::fn(m, "g4"), {10});
    REQUIRE(r.ok());
    CHECK(*r == 15);
    CHECK_MESSAGE(m.findings().empty(), test::findings_text(m));
}

TEST_CASE("ftrace checks: returning with another x29 is fgraph-mismatch") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::Args, Compiler::Clang);
    emu::Machine& m = *rig.machine;
    auto bad = m.load_assembly(kBadFp, "bad_fp.S");
    REQUIRE_MESSAGE(bad.ok(), (bad.ok() ? "" : bad.error().message));
    REQUIRE(rig.ftrace->add_object(*bad).ok());
    REQUIRE(rig.ftrace->enable("bad_fp", TracerKind::Graph).ok());
    auto r = m.call(test::fn(m, "bad_fp"));
    REQUIRE(r.ok());
    CHECK(*r == 7);
    auto mismatch = test::findings_of(m, "fgraph-mismatch");
    REQUIRE_MESSAGE(mismatch.size() == 1, test::findings_text(m));
    CHECK(mismatch[0].message.starts_with("Bad frame pointer: expected"));
    CHECK(mismatch[0].message.find("received 0x0 from func bad_fp") != std::string::npos);
}

TEST_CASE("ftrace checks: a far module without an ftrace PLT") {
    for (bool brk : {false, true}) {
        CAPTURE(brk);
        emu::MachineConfig config;
        auto created = emu::Machine::create(config);
        REQUIRE(created.ok());
        emu::Machine& m = **created;
        FtraceOptions options;
        options.brk_on_range_error = brk;
        auto ftrace = Ftrace::create(m, options);
        REQUIRE(ftrace.ok());
        auto far = m.load_assembly(kFar, "far.S", ObjectKind::Module, emu::Placement::Far);
        REQUIRE_MESSAGE(far.ok(), (far.ok() ? "" : far.error().message));
        REQUIRE((*ftrace)->add_object(*far).ok());

        auto enabled = (*ftrace)->enable("far_fn");
        auto range = test::findings_of(m, "bl-out-of-range");
        REQUIRE(range.size() == 1);
        CHECK(range[0].where == "far_fn+0x4");
        if (!brk) {
            CHECK_FALSE(enabled.ok());
            CHECK((*ftrace)->site_state("far_fn") == CallSiteState::Off);
            auto r = m.call(test::fn(m, "far_fn"));
            REQUIRE(r.ok());
            CHECK(*r == 9);
            continue;
        }
        REQUIRE(enabled.ok());
        CHECK((*ftrace)->site_state("far_fn") == CallSiteState::Broken);
        CHECK((*ftrace)->patch_log().back() == "patch far_fn+0x4: nop -> brk #0x100");
        (void)m.call(test::fn(m, "far_fn"));
        auto brks = test::findings_of(m, "brk-at-callsite");
        REQUIRE_MESSAGE(brks.size() == 1, test::findings_text(m));
        CHECK(brks[0].where == "far_fn+0x4");
        CHECK(brks[0].severity == Severity::Fatal);
    }
}

TEST_CASE("ftrace events: patch and trace lines in clock order for the transcript") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::Args, Compiler::Clang);
    emu::Machine& m = *rig.machine;
    Ftrace& ftrace = *rig.ftrace;
    (void)ftrace.take_events(); // The mov x9, x30 initialisation.
    REQUIRE(ftrace.apply_action(true, "leaf", "function").ok());
    REQUIRE(m.call(test::fn(m, "tail"), {1}).ok());
    REQUIRE(ftrace.apply_action(false, "leaf", "").ok());
    CHECK_FALSE(ftrace.apply_action(true, "leaf", "mcount").ok());
    CHECK_FALSE(ftrace.apply_action(false, "nosuchfunction", "").ok());

    auto events = ftrace.take_events();
    std::vector<std::string> lines;
    for (const auto& e : events) {
        lines.push_back(
            fmt::format("{} {}", e.kind == Ftrace::Event::Kind::Patch ? "P" : "T", e.text));
    }
    const std::vector<std::string> expected{
        "P patch ftrace_call: bl ftrace_stub -> bl ftrace_ops_list_func",
        "P patch leaf+0x4: nop -> bl ftrace_caller",
        "T call:tail-1 [000] leaf <-ret_from_fork", // tail() ends in `b leaf`
        "P patch leaf+0x4: bl ftrace_caller -> nop",
        "P patch ftrace_call: bl ftrace_ops_list_func -> bl ftrace_stub",
    };
    CHECK_MESSAGE(lines == expected, fmt::format("{}", fmt::join(lines, "\n")));
    CHECK(ftrace.take_events().empty());
}

TEST_CASE("ftrace call-ops: a site shared by two ops calls through ftrace_list_ops") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::CallOps, Compiler::Gcc);
    emu::Machine& m = *rig.machine;
    Ftrace& ftrace = *rig.ftrace;
    (void)ftrace.take_events();
    REQUIRE(ftrace.enable("leaf").ok());
    REQUIRE(ftrace.enable("leaf", TracerKind::Graph).ok());
    auto r = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(r.ok());
    CHECK(*r == 27);
    REQUIRE(ftrace.disable("leaf").ok());

    std::vector<std::string> lines;
    for (const auto& e : ftrace.take_events()) {
        if (e.kind == Ftrace::Event::Kind::Patch) {
            lines.push_back(e.text);
        }
    }
    const std::vector<std::string> expected{
        // ftrace_make_call: the single ops' own record, then the BL.
        "literal leaf-0x8: ftrace_nop_ops -> ftrace_ops_pool",
        "patch leaf+0x4: nop -> bl ftrace_caller",
        // A second ops on the site: only the literal changes (ftrace_modify_call, same target).
        "literal leaf-0x8: ftrace_ops_pool -> ftrace_list_ops",
        // Both gone: the literal back to nop_ops, then the NOP.
        "literal leaf-0x8: ftrace_list_ops -> ftrace_nop_ops",
        "patch leaf+0x4: bl ftrace_caller -> nop",
    };
    CHECK_MESSAGE(lines == expected, fmt::format("{}", fmt::join(lines, "\n")));
    const auto& trace = ftrace.trace();
    CHECK(test::count_ending(trace, "] leaf <-nonleaf") == 2);
    CHECK(test::count_ending(trace, "leaf() {") == 2);
    CHECK(test::count_ending(trace, "} /* leaf */") == 2);
    CHECK_MESSAGE(m.findings().empty(), test::findings_text(m));
}
