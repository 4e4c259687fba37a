// ftrace on two CPUs: enabling and disabling tracers while both CPUs run the traced functions
// writes only NOP <-> BL (no cmodx-unsafe) and changes no result; a deliberately unsafe live
// patch of an ordinary instruction is reported as cmodx-unsafe.
#include "ftrace_test_util.h"

#include "emu/insn_encoding.h"

#include <fmt/format.h>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

emu::MachineConfig two_cpus() {
    emu::MachineConfig config;
    config.cpus = 2;
    config.scheduling.quantum = 500;
    return config;
}

int spawn(emu::Machine& m, std::string name, GuestAddr entry, std::array<uint64_t, 8> args,
          int cpu) {
    emu::TaskSpec spec;
    spec.name = std::move(name);
    spec.entry = entry;
    spec.args = args;
    spec.cpu = cpu;
    auto id = m.create_task(spec);
    REQUIRE(id.ok());
    return *id;
}

} // namespace

TEST_CASE("ftrace smp: enable and disable while two CPUs run the traced code") {
    for (TrampolineVariant variant :
         {TrampolineVariant::Regs, TrampolineVariant::Args, TrampolineVariant::CallOps}) {
        CAPTURE(trampoline_layout(variant).name);
        auto rig = test::make_ftrace_rig(variant, Compiler::Clang, two_cpus());
        emu::Machine& m = *rig.machine;
        const GuestAddr loop = test::fn(m, "chain_loop");
        auto expected = m.call(loop, {5, 60});
        REQUIRE(expected.ok());

        const int a = spawn(m, "worker0", loop, {5, 60}, 0);
        const int b = spawn(m, "worker1", loop, {5, 60}, 1);
        Ftrace& ftrace = *rig.ftrace;
        auto step = [&](uint64_t n) {
            auto r = m.run(n);
            REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        };
        step(3000);
        REQUIRE(ftrace.enable("leaf tail").ok());
        step(3000);
        REQUIRE(ftrace.enable("nonleaf many", TracerKind::Graph).ok());
        step(3000);
        REQUIRE(ftrace.disable("leaf").ok());
        step(3000);
        REQUIRE(ftrace.enable("fib sum_va").ok());
        step(3000);
        REQUIRE(ftrace.disable("*").ok());
        step(3000);
        REQUIRE(ftrace.enable("leaf").ok());
        auto done = m.run();
        REQUIRE(done.ok());
        CHECK(done->reason == emu::StopReason::AllTasksFinished);
        CHECK(m.task(a).exit_value == *expected);
        CHECK(m.task(b).exit_value == *expected);
        CHECK(ftrace.ops_calls() > 0);
        MESSAGE(fmt::format("{} ops calls, {} trace lines, {} writes, {} findings",
                            ftrace.ops_calls(), ftrace.trace().size(),
                            ftrace.text_poke().log().size(), m.findings().size()));

        CHECK_MESSAGE(test::findings_of(m, "cmodx-unsafe").empty(), test::findings_text(m));
        for (const Finding& f : m.findings()) {
            CHECK_MESSAGE(f.kind == "stale-fetch", test::findings_text(m));
        }
        // Every write was NOP <-> BL (or the global ftrace_call BL <-> BL).
        for (const PokeRecord& r : ftrace.text_poke().log()) {
            if (r.purpose == PatchPurpose::CallSite && r.line.starts_with("patch ")) {
                CHECK((a64::is_nop(r.old_word) || a64::is_bl(r.old_word)));
                CHECK((a64::is_nop(r.new_word) || a64::is_bl(r.new_word)));
            }
        }
    }
}

TEST_CASE("ftrace smp: an unsafe live patch of an ordinary instruction is cmodx-unsafe") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::Args, Compiler::Clang, two_cpus());
    emu::Machine& m = *rig.machine;
    const GuestAddr loop = test::fn(m, "chain_loop");
    spawn(m, "worker0", loop, {5, 40}, 0);
    spawn(m, "worker1", loop, {5, 40}, 1);
    REQUIRE(m.run(2000).ok());

    // g5's body `add x0, x0, #5` (after its two patchable NOPs) -> `add x0, x0, #6`.
    const GuestAddr body = test::fn(m, "g5") + 8;
    auto old_word = m.memory().load<uint32_t>(body);
    REQUIRE(old_word == 0x91001400u);                                        // add x0, x0, #5
    const TextPatch patch{body, InsnWord(0x91001400), InsnWord(0x91001800)}; // add x0, x0, #6
    REQUIRE(rig.ftrace->text_poke().apply(patch, PokeContext{0}).ok());
    auto unsafe = rig.ftrace->text_poke().findings();
    REQUIRE(unsafe.size() == 1);
    CHECK(unsafe[0].kind == "cmodx-unsafe");
    CHECK(unsafe[0].where == "g5+0x8");
    CHECK(unsafe[0].message.find("add x0, x0, #5 -> add x0, x0, #6") != std::string::npos);
    CHECK(rig.ftrace->patch_log().back() == "patch g5+0x8: add x0, x0, #5 -> add x0, x0, #6");
}
