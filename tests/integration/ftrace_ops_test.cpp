// The ftrace ops registry's kernel semantics: filter hashes keyed by function entry address
// (a name is resolved once, and a same-named function in another object is never matched),
// FTRACE_OPS_FL_IPMODIFY exclusivity (-EBUSY), FTRACE_OPS_FL_SAVE_REGS only where the
// trampoline builds a pt_regs (-EINVAL).
#include "ftrace_test_util.h"

#include <cerrno>

using namespace klpemu;
using namespace klpemu::patcher;

namespace {

// A module with its own static `leaf` (a livepatch replacement would look like this): a
// traceable function whose name is the kernel's leaf, at another address.
constexpr std::string_view kModuleLeaf = R"(
    .text
    .type   leaf, %function
    .balign 8
leaf:
    nop
    nop
    mov     x0, #42
    ret
    .size   leaf, . - leaf
    .globl  call_module_leaf
    .type   call_module_leaf, %function
call_module_leaf:
    b       leaf
    .size   call_module_leaf, . - call_module_leaf
    .section __patchable_function_entries, "awo", @progbits, leaf
    .balign 8
    .quad   leaf
)";

struct Counting {
    int calls = 0;
    std::vector<std::string> where;
    FtraceOps ops(std::string name) {
        FtraceOps o;
        o.name = std::move(name);
        o.func = [this](FtraceCall& call) {
            ++calls;
            where.push_back(std::string(call.function));
        };
        return o;
    }
};

} // namespace

TEST_CASE("ftrace ops: a filter name never matches a same-named function of another object") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::Args, Compiler::Clang);
    emu::Machine& m = *rig.machine;
    auto mod = m.load_assembly(kModuleLeaf, "module_leaf.S", ObjectKind::Module);
    REQUIRE_MESSAGE(mod.ok(), (mod.ok() ? "" : mod.error().message));
    REQUIRE(rig.ftrace->add_object(*mod).ok());
    const GuestAddr module_leaf = mod->patch_sites.at(0).function_addr;
    REQUIRE(module_leaf != test::fn(m, "leaf"));

    Counting by_name;
    FtraceOps ops = by_name.ops("by-name");
    ops.filter = FtraceFilter("leaf");
    REQUIRE(rig.ftrace->register_ops(std::move(ops)).ok());
    auto r = m.call(test::fn(m, "call_module_leaf"));
    REQUIRE(r.ok());
    CHECK(*r == 42);
    CHECK(by_name.calls == 0);
    r = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(r.ok());
    CHECK(by_name.calls == 2);

    // By address (ftrace_set_filter_ip): only the module's function.
    Counting by_ip;
    FtraceOps ip_ops = by_ip.ops("by-ip");
    ip_ops.filter_ips = {module_leaf};
    REQUIRE(rig.ftrace->register_ops(std::move(ip_ops)).ok());
    r = m.call(test::fn(m, "call_module_leaf"));
    REQUIRE(r.ok());
    CHECK(by_ip.calls == 1);
    r = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(r.ok());
    CHECK(by_ip.calls == 1);
    CHECK(by_name.calls == 4);
}

TEST_CASE("ftrace ops: a notrace hash removes functions from an every-function filter") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::Args, Compiler::Clang);
    emu::Machine& m = *rig.machine;
    Counting counting;
    FtraceOps ops = counting.ops("all-but-leaf");
    ops.notrace = FtraceFilter("leaf");
    REQUIRE(rig.ftrace->register_ops(std::move(ops)).ok());
    CHECK(rig.ftrace->site_state("leaf") == CallSiteState::Off);
    CHECK(rig.ftrace->site_state("nonleaf") == CallSiteState::On);
    auto r = m.call(test::fn(m, "nonleaf"), {4});
    REQUIRE(r.ok());
    CHECK(counting.where == std::vector<std::string>{"nonleaf"});
}

TEST_CASE("ftrace ops: a second IPMODIFY ops on one function fails with EBUSY") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::Args, Compiler::Clang);
    emu::Machine& m = *rig.machine;
    const GuestAddr g4 = test::fn(m, "g4");
    auto ipmodify = [&](std::string name, GuestAddr func) {
        FtraceOps ops;
        ops.name = std::move(name);
        ops.flags.set(FtraceOpsFlag::IpModify);
        ops.filter_ips = {func};
        ops.func = [](FtraceCall&) {};
        return ops;
    };
    auto first = rig.ftrace->register_ops(ipmodify("klp-a", g4));
    REQUIRE(first.ok());
    auto second = rig.ftrace->register_ops(ipmodify("klp-b", g4));
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == EBUSY);
    CHECK(second.error().message.find("'klp-a'") != std::string::npos);
    // Another function, or a tracer without IPMODIFY on the same one, is fine.
    CHECK(rig.ftrace->register_ops(ipmodify("klp-c", test::fn(m, "g5"))).ok());
    CHECK(rig.ftrace->enable("g4").ok());
    // Once the first is gone, the function is free again.
    REQUIRE(rig.ftrace->unregister_ops(*first).ok());
    CHECK(rig.ftrace->register_ops(ipmodify("klp-b", g4)).ok());
}

TEST_CASE("ftrace ops: SAVE_REGS needs a pt_regs trampoline") {
    for (TrampolineVariant variant : {TrampolineVariant::Args, TrampolineVariant::Regs}) {
        CAPTURE(trampoline_layout(variant).name);
        auto rig = test::make_ftrace_rig(variant, Compiler::Clang);
        Counting counting;
        FtraceOps ops = counting.ops("regs");
        ops.flags.set(FtraceOpsFlag::SaveRegs);
        ops.filter = FtraceFilter("leaf");
        auto id = rig.ftrace->register_ops(std::move(ops));
        if (variant == TrampolineVariant::Args) {
            REQUIRE_FALSE(id.ok());
            CHECK(id.error().code == EINVAL);
        } else {
            CHECK(id.ok());
        }
    }
}

TEST_CASE("ftrace ops: an IPMODIFY callback redirects the traced call") {
    auto rig = test::make_ftrace_rig(TrampolineVariant::CallOps, Compiler::Clang);
    emu::Machine& m = *rig.machine;
    const GuestAddr g5 = test::fn(m, "g5");
    FtraceOps ops;
    ops.name = "klp";
    ops.flags.set(FtraceOpsFlag::IpModify);
    ops.filter_ips = {test::fn(m, "g4")};
    // As klp_ftrace_handler: resume in the replacement, past its own patchable entry.
    ops.func = [g5](FtraceCall& call) { call.regs.set_pc(g5 + 8); };
    REQUIRE(rig.ftrace->register_ops(std::move(ops)).ok());
    auto r = m.call(test::fn(m, "g4"), {10});
    REQUIRE(r.ok());
    CHECK(*r == 15); // g5(10), not g4(10) = g5(20) + 4.
    CHECK_MESSAGE(m.findings().empty(), test::findings_text(m));
}
