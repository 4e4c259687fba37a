// What a frame-pointer unwind sees from inside the tracer (reference §2: "tracer ->
// ftrace_caller -> F -> P"): every variant but regs-v3 links the traced function (rec->ip + 4)
// and then its caller; regs-v3 links the traced function and skips its caller, whose return
// address lives only in x9 (Ard's review, seeds/001).
#include "ftrace_test_util.h"

#include <fmt/format.h>

using namespace klpemu;
using namespace klpemu::patcher;

TEST_CASE("ftrace frames: the frame-record chain seen from the tracer") {
    for (TrampolineVariant variant :
         {TrampolineVariant::RegsV3, TrampolineVariant::RegsV4, TrampolineVariant::Regs,
          TrampolineVariant::Args, TrampolineVariant::CallOps}) {
        CAPTURE(trampoline_layout(variant).name);
        auto rig = test::make_ftrace_rig(variant, Compiler::Clang);
        emu::Machine& m = *rig.machine;
        std::vector<std::string> chain;
        FtraceOps ops;
        ops.name = "walker";
        ops.filter = FtraceFilter("leaf");
        ops.func = [&](FtraceCall& call) {
            if (!chain.empty()) {
                return;
            }
            // The tracer stub has no frame: x29 is the trampoline's own record.
            uint64_t fp = call.host.arg(29);
            for (int depth = 0; depth < 3 && fp != 0; ++depth) {
                const uint64_t lr = m.memory().load<uint64_t>(GuestAddr(fp + 8));
                chain.push_back(m.symbolize(GuestAddr(lr)).base);
                fp = m.memory().load<uint64_t>(GuestAddr(fp));
            }
        };
        REQUIRE(rig.ftrace->register_ops(std::move(ops)).ok());
        auto r = m.call(test::fn(m, "nonleaf"), {4});
        REQUIRE(r.ok());
        CHECK(*r == 27);
        REQUIRE(chain.size() >= 2);
        CHECK(chain[0] == "leaf"); // rec->ip + 4: the traced function itself.
        if (variant == TrampolineVariant::RegsV3) {
            CHECK_MESSAGE(chain[1] != "nonleaf", fmt::format("{}", fmt::join(chain, " <- ")));
        } else {
            CHECK_MESSAGE(chain[1] == "nonleaf", fmt::format("{}", fmt::join(chain, " <- ")));
        }
    }
}

// regs-v4 is the series' posted entry code (docs/eras.md): one 336-byte frame, pt_regs at SP
// and in x3, the trampoline's record in pt_regs.stackframe (304) and the callee's "preliminary"
// record above pt_regs (320), ip = lr - 4. Ard's review layout (two pushes, 352 bytes, pt_regs
// at SP + 16) puts the same words at the same distances from pt_regs but points x29 at SP, 16
// bytes below pt_regs: the x29 check tells the two apart.
TEST_CASE("ftrace frames: regs-v4 builds the posted 336-byte frame") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::RegsV4, Compiler::Clang);
    emu::Machine& m = *rig.machine;
    bool seen = false;
    FtraceOps ops;
    ops.name = "layout";
    ops.filter = FtraceFilter("leaf");
    ops.func = [&](FtraceCall& call) {
        if (seen) {
            return;
        }
        seen = true;
        const uint64_t regs = call.regs.base().value;
        const uint64_t fp = call.host.arg(29);
        auto load = [&](uint64_t a) { return m.memory().load<uint64_t>(GuestAddr(a)); };
        CHECK(call.host.arg(3) == regs);
        CHECK(call.regs.sp() - regs == 336);
        CHECK(fp == regs + 304);
        CHECK(load(fp) == regs + 320);
        CHECK(load(fp + 8) == call.regs.pc().value); // x30: rec->ip + 4
        CHECK(load(regs + 320) == call.regs.fp());     // the entry x29
        CHECK(load(regs + 328) == call.regs.lr().value);
        CHECK(call.ip.value == call.regs.pc().value - 4);
    };
    REQUIRE(rig.ftrace->register_ops(std::move(ops)).ok());
    auto r = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(r.ok());
    CHECK(*r == 27);
    CHECK(seen);
}
