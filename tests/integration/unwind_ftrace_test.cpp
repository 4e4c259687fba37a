// The reliability checker over real compiler output traced by every ftrace trampoline variant:
// the ground truth must follow `mov x9, x30; bl ftrace_caller ... ret x9` and the graph
// tracer's return_to_handler without a single mismatch; kunwind must never be unsound; the
// naive walker must be caught in the trampolines' windows (Window A, reference §2(c)).
#include "ftrace_test_util.h"

#include "emu/cfi_table.h"
#include "unwinder/machine_checker.h"

#include <doctest/doctest.h>

#include <array>
#include <cstdlib>

using namespace klpemu;
using namespace klpemu::unwinder;
using klpemu::patcher::TracerKind;
using klpemu::patcher::TrampolineVariant;

namespace {

constexpr std::array kVariants{TrampolineVariant::RegsV3, TrampolineVariant::RegsV4,
                               TrampolineVariant::Regs, TrampolineVariant::Args,
                               TrampolineVariant::CallOps};

std::string describe(const ReliabilityChecker& c) {
    std::string s = c.summary();
    size_t n = 0;
    for (const Finding& f : c.findings()) {
        if (f.kind != "unsound-reliable-trace" || f.message.find("kunwind") != std::string::npos ||
            n++ < 3) {
            s += f.kind + " " + f.where + ": " + f.message + "\n";
        }
    }
    return s;
}

// scenarios/ftrace/chain.c compiled with unwind tables (the cfi policy's input) and loaded.
LoadedObject load_chain_with_cfi(emu::Machine& m, Compiler compiler, bool call_ops) {
    CompileOptions opts;
    opts.compiler = compiler;
    // -foptimize-sibling-calls keeps chain.c's tail call (see ftrace_test_util.h).
    opts.extra_flags = {"-fasynchronous-unwind-tables", "-foptimize-sibling-calls"};
    if (call_ops) {
        opts.extra_flags.push_back("-fpatchable-function-entry=4,2");
        opts.extra_flags.push_back("-falign-functions=8");
    }
    auto obj = compile_c(std::string(KLPEMU_SOURCE_ROOT) + "/scenarios/ftrace/chain.c", opts);
    REQUIRE_MESSAGE(obj.ok(), (obj.ok() ? "" : obj.error().message));
    auto size = Loader::layout_size(*obj);
    REQUIRE(size.ok());
    auto base = m.reserve_kernel_region(*size);
    REQUIRE(base.ok());
    auto loaded = Loader{}.load(*obj, *base, LoadOptions{}, m.symbols());
    REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
    REQUIRE(m.load(*loaded).ok());
    return std::move(*loaded);
}

size_t count_kind(const ReliabilityChecker& c, std::string_view kind, std::string_view policy) {
    return size_t(std::count_if(c.findings().begin(), c.findings().end(), [&](const Finding& f) {
        return f.kind == kind &&
               f.message.find(fmt::format("unwinder: {}:", policy)) != std::string::npos;
    }));
}

} // namespace

TEST_CASE("unwind checker: compiled C traced by every trampoline variant and the graph tracer") {
    for (Compiler compiler : {Compiler::Clang, Compiler::Gcc}) {
        for (TrampolineVariant variant : kVariants) {
            const std::string name = fmt::format(
                "{} / {}", patcher::trampoline_layout(variant).name, test::compiler_name(compiler));
            CAPTURE(name);
            auto machine = emu::Machine::create({});
            REQUIRE(machine.ok());
            emu::Machine& m = **machine;
            patcher::FtraceOptions options;
            options.variant = variant;
            auto ftrace = patcher::Ftrace::create(m, options);
            REQUIRE_MESSAGE(ftrace.ok(), (ftrace.ok() ? "" : ftrace.error().message));
            const LoadedObject object =
                load_chain_with_cfi(m, compiler, patcher::trampoline_layout(variant).call_ops);
            REQUIRE((*ftrace)->add_object(object).ok());
            CfiTable cfi;
            REQUIRE_FALSE(object.cfi.empty());
            for (const CfiSection& s : object.cfi) {
                REQUIRE(cfi.add_section(s).ok());
            }
            struct {
                patcher::Ftrace* ftrace;
            } rig{ftrace->get()};
            REQUIRE(rig.ftrace->enable("leaf nonleaf tail sum_va many make_big").ok());
            REQUIRE(rig.ftrace->enable("g?", TracerKind::Graph).ok());
            MachineChecker mc(m, CheckerConfig{}, &cfi);

            REQUIRE(m.call(test::fn(m, "chain_main"), {5}).ok());
            REQUIRE(m.call(test::fn(m, "g1"), {3}).ok());
            const ReliabilityChecker& c = mc.checker();
            INFO(describe(c));

            CHECK(std::none_of(c.findings().begin(), c.findings().end(),
                               [](const Finding& f) { return f.kind == "shadow-stack-mismatch"; }));
            CHECK(c.stats("kunwind").unsound == 0);
            CHECK(c.stats("kunwind").reliable_correct > 0);
            CHECK(c.stats("fp-naive").unsound > 0);
            // Window A: inside the trampoline before its frame records exist.
            const bool window_a =
                std::any_of(c.findings().begin(), c.findings().end(), [](const Finding& f) {
                    return f.message.find("unwinder: fp-naive:") != std::string::npos &&
                           f.where.find("ftrace") != std::string::npos;
                });
            CHECK(window_a);
            CHECK(count_kind(c, "unsound-reliable-trace", "kunwind") == 0);
            // cfi: sound, and reliable wherever the compiler's CFI covers the code.
            CHECK(c.stats("cfi").unsound == 0);
            const auto per_fn = c.function_stats();
            for (std::string fn : {"leaf", "fib", "nonleaf"}) {
                CAPTURE(fn);
                REQUIRE(per_fn.count(fn) == 1);
                CHECK(per_fn.at(fn).at("cfi").reliable_correct > 0);
            }
            if (std::getenv("KLPEMU_SHOW_FINDINGS") != nullptr) {
                MESSAGE(describe(c));
            }
        }
    }
}
