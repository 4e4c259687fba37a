// ftrace direct calls (patcher/ftrace_direct.cpp; DYNAMIC_FTRACE_WITH_DIRECT_CALLS, 6.4+ call-ops
// builds): which eras have them and what the others say instead (seed 004: before 6.4 a call
// site could only reach the ftrace entry, so a far target per function needed a PLT each), a
// near target branched to straight from the site, a far one through ftrace_caller's `br x17`,
// EBUSY for a second direct trampoline on one function, and the abi-clobber check on a direct
// trampoline that changes an argument.
#include "ftrace_test_util.h"

#include <cerrno>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

// Direct trampolines with the samples/ftrace calling convention: x30 = the function's body, x9 =
// its return address. far_tramp counts into far_hits; clobber_tramp also zeroes x0.
constexpr std::string_view kTramps = R"(
        .text
        .globl  far_tramp, clobber_tramp, far_hits
        .balign 4
far_tramp:
        bti     c
        adrp    x10, far_hits
        ldr     x11, [x10, :lo12:far_hits]
        add     x11, x11, #1
        str     x11, [x10, :lo12:far_hits]
        mov     x10, x30
        mov     x30, x9
        ret     x10
clobber_tramp:
        bti     c
        mov     x0, #0
        mov     x10, x30
        mov     x30, x9
        ret     x10
        .data
        .balign 8
far_hits:
        .quad   0
)";

GuestAddr target_of(const Ftrace& ftrace, std::string_view function) {
    for (const auto& s : ftrace.sites()) {
        if (s.site.function == function) {
            return s.target;
        }
    }
    FAIL("no call site for " << function);
    return {};
}

GuestAddr load_tramps(emu::Machine& m, emu::Placement placement) {
    auto tramps = m.load_assembly(kTramps, "tramps.S", ObjectKind::Module, placement);
    REQUIRE_MESSAGE(tramps.ok(), (tramps.ok() ? "" : tramps.error().message));
    return test::fn(m, "far_tramp");
}

} // namespace

TEST_CASE("direct calls: only 6.4+ call-ops kernels have them, the others say why") {
    struct Case {
        TrampolineVariant variant;
        emu::KernelEra era;
        std::string_view says;
    };
    const Case cases[] = {
        {TrampolineVariant::RegsV4, emu::KernelEra::V4_19_v4,
         "kernel 4.19-v4 has no DYNAMIC_FTRACE_WITH_DIRECT_CALLS"},
        {TrampolineVariant::Regs, emu::KernelEra::V5_5,
         "kernel 5.5 has no DYNAMIC_FTRACE_WITH_DIRECT_CALLS"},
        {TrampolineVariant::CallOps, emu::KernelEra::V6_3,
         "kernel 6.3 has no DYNAMIC_FTRACE_WITH_DIRECT_CALLS"},
        {TrampolineVariant::Args, emu::KernelEra::V6_4, "only in CALL_OPS builds"},
        {TrampolineVariant::Args, emu::KernelEra::V6_17, "only in CALL_OPS builds"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.says);
        auto rig = test::make_ftrace_rig(c.variant, Compiler::Clang, {}, c.era);
        CHECK_FALSE(rig.ftrace->direct_calls());
        const GuestAddr tramp = load_tramps(*rig.machine, emu::Placement::Far);
        auto r = rig.ftrace->register_direct("d", FtraceFilter("leaf"), tramp);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find(c.says) != std::string::npos);
        if (c.era == emu::KernelEra::V4_19_v4) {
            // Mark Rutland's concern in the seed's own kernel.
            CHECK(r.error().message.find("a PLT per target function") != std::string::npos);
            CHECK(r.error().message.find("ftrace_regs_caller") != std::string::npos);
        }
    }
}

TEST_CASE("direct calls: the call-ops ftrace_caller has the direct paths from 6.4 only") {
    for (emu::KernelEra era : {emu::KernelEra::V6_3, emu::KernelEra::V6_4, emu::KernelEra::V6_17}) {
        CAPTURE(int(era));
        auto rig = test::make_ftrace_rig(TrampolineVariant::CallOps, Compiler::Clang, {}, era);
        const bool direct = era != emu::KernelEra::V6_3;
        CHECK(rig.ftrace->direct_calls() == direct);
        CHECK(rig.machine->symbol("ftrace_caller_direct").ok() == direct);
    }
}

TEST_CASE("direct calls: a near trampoline from the site, a far one through ftrace_caller") {
    for (emu::KernelEra era : {emu::KernelEra::V6_4, emu::KernelEra::V6_17}) {
        CAPTURE(int(era));
        auto rig = test::make_ftrace_rig(TrampolineVariant::CallOps, Compiler::Clang, {}, era);
        emu::Machine& m = *rig.machine;
        REQUIRE(rig.ftrace->direct_calls());
        auto before = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(before.ok());

        const GuestAddr far = load_tramps(m, emu::Placement::Far);
        auto id = rig.ftrace->register_direct("d", FtraceFilter("leaf"), far);
        REQUIRE_MESSAGE(id.ok(), (id.ok() ? "" : id.error().message));
        // Out of BL reach: ftrace_find_callable_addr picks ftrace_caller.
        CHECK(target_of(*rig.ftrace, "leaf") == rig.ftrace->trampoline());
        auto r = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(r.ok());
        CHECK(*r == *before);
        CHECK(m.memory().load<uint64_t>(test::fn(m, "far_hits")) == 2);
        CHECK(rig.ftrace->ops_calls() == 0); // The fast path runs no callback.
        CHECK_MESSAGE(m.findings().empty(), test::findings_text(m));

        // A second direct ops on the function: EBUSY (direct_functions holds one per ip).
        auto again = rig.ftrace->register_direct("d2", FtraceFilter("leaf"), far);
        REQUIRE_FALSE(again.ok());
        CHECK(again.error().code == EBUSY);

        // Beside the function tracer: the list function runs, then the late exit.
        REQUIRE(rig.ftrace->enable("leaf").ok());
        r = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(r.ok());
        CHECK(*r == *before);
        CHECK(m.memory().load<uint64_t>(test::fn(m, "far_hits")) == 4);
        CHECK(rig.ftrace->ops_calls() == 2);
        REQUIRE(rig.ftrace->disable("leaf").ok());

        // A near trampoline: the site's BL reaches it itself.
        auto near = m.load_assembly(R"(
        .text
        .globl  near_tramp
near_tramp:
        bti     c
        mov     x10, x30
        mov     x30, x9
        ret     x10
)",
                                    "near.S", ObjectKind::Module, emu::Placement::Near);
        REQUIRE(near.ok());
        REQUIRE(rig.ftrace->modify_direct(*id, test::fn(m, "near_tramp")).ok());
        CHECK(target_of(*rig.ftrace, "leaf") == test::fn(m, "near_tramp"));
        r = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(r.ok());
        CHECK(*r == *before);
        CHECK(m.memory().load<uint64_t>(test::fn(m, "far_hits")) == 4);

        REQUIRE(rig.ftrace->unregister_direct(*id).ok());
        CHECK(rig.ftrace->site_state("leaf") == CallSiteState::Off);
        CHECK_MESSAGE(m.findings().empty(), test::findings_text(m));
    }
}

TEST_CASE("direct calls: a direct trampoline that clobbers an argument is abi-clobber") {
    for (emu::Placement placement : {emu::Placement::Near, emu::Placement::Far}) {
        CAPTURE(int(placement));
        auto rig = test::make_ftrace_rig(TrampolineVariant::CallOps, Compiler::Clang, {},
                                         emu::KernelEra::V6_17);
        emu::Machine& m = *rig.machine;
        load_tramps(m, placement);
        auto id =
            rig.ftrace->register_direct("d", FtraceFilter("leaf"), test::fn(m, "clobber_tramp"));
        REQUIRE(id.ok());
        auto r = m.call(test::fn(m, "leaf"), {4, 1});
        REQUIRE(r.ok());
        CHECK(*r == 1); // leaf(0, 1): the trampoline's x0 reached the body.
        auto clobber = test::findings_of(m, "abi-clobber");
        REQUIRE_MESSAGE(clobber.size() == 1, test::findings_text(m));
        CHECK(clobber[0].where == "leaf+0x8");
        CHECK(clobber[0].message.find("direct trampoline clobber_tramp") != std::string::npos);
        CHECK(clobber[0].message.find("x0 0x0 (expected 0x4)") != std::string::npos);
    }
}
