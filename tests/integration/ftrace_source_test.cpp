// [machine] ftrace_source (patcher/ftrace_source.h): a kernel-style entry-ftrace.S built against
// the era with klpemu's compatibility headers and generated asm-offsets, then run as the
// trampoline. The scenarios in scenarios/own run the checks end to end; these cases pin the
// build: the offsets the engine reads, the Kconfig rules, and the FILE:LINE errors.
#include "ftrace_test_util.h"

#include "patcher/ftrace_source.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

using namespace klpemu;
using patcher::TrampolineVariant;

namespace {

const std::string kData = std::string(KLPEMU_SOURCE_ROOT) + "/tests/data/ftrace_source/";

// A copy of `file` with `from` replaced by `to`, in a temporary directory under a name of its
// own (ctest runs the cases of this file in parallel).
std::filesystem::path edited_copy(const std::string& file, const std::string& from,
                                  const std::string& to, const std::string& tag) {
    std::ifstream in(kData + file);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    const auto path = std::filesystem::temp_directory_path() / ("klpemu-own-" + tag + "-" + file);
    std::ofstream(path) << text;
    return path;
}

// The 1-based line of the first `needle` in `path`: expected messages follow the data file
// instead of hard-coding line numbers that every edit of it would move.
std::string line_of(const std::filesystem::path& path, const std::string& needle) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const size_t at = text.find(needle);
    REQUIRE(at != std::string::npos);
    return std::to_string(1 + std::count(text.begin(), text.begin() + std::ptrdiff_t(at), '\n'));
}

patcher::FtraceSourceSpec spec(const std::filesystem::path& p) {
    return patcher::FtraceSourceSpec{p, {}, {}, {}};
}

} // namespace

TEST_CASE("ftrace_source: asm-offsets come from the era and agree with the engine's layout") {
    const auto& args = patcher::trampoline_layout(TrampolineVariant::Args);
    const std::string h617 =
        patcher::ftrace_asm_offsets(emu::era_info(emu::KernelEra::V6_17), args);
    for (const char* line :
         {"#define FREGS_FP 80\n", "#define FREGS_LR 88\n", "#define FREGS_SP 96\n",
          "#define FREGS_PC 104\n", "#define FREGS_SIZE 112\n", "#define FREGS_X4 32\n",
          "#define FREGS_DIRECT_TRAMP 72\n", "#define FTRACE_OPS_FUNC 0\n",
          "#define FTRACE_OPS_DIRECT_CALL 16\n", "#define S_STACKFRAME 296\n",
          "#define PT_REGS_SIZE 336\n"}) {
        CHECK_MESSAGE(h617.find(line) != std::string::npos, line);
    }
    const auto& regs = patcher::trampoline_layout(TrampolineVariant::Regs);
    const std::string h55 = patcher::ftrace_asm_offsets(emu::era_info(emu::KernelEra::V5_5), regs);
    for (const char* line : {"#define S_FRAME_SIZE 320\n", "#define PT_REGS_SIZE 320\n",
                             "#define S_X28 224\n", "#define S_LR 240\n", "#define S_PC 256\n"}) {
        CHECK_MESSAGE(h55.find(line) != std::string::npos, line);
    }
    CHECK(h55.find("FREGS_") == std::string::npos);
    CHECK(h55.find("FTRACE_OPS_DIRECT_CALL") == std::string::npos);
    // struct fgraph_ret_regs exists on v6.5..v6.12 only (return_to_handler's argument there).
    const std::string h65 = patcher::ftrace_asm_offsets(emu::era_info(emu::KernelEra::V6_5), args);
    for (const char* line : {"#define FGRET_REGS_X0 0\n", "#define FGRET_REGS_X3 24\n",
                             "#define FGRET_REGS_X7 56\n", "#define FGRET_REGS_FP 64\n",
                             "#define FGRET_REGS_SIZE 80\n", "#define FREGS_SIZE 112\n"}) {
        CHECK_MESSAGE(h65.find(line) != std::string::npos, line);
    }
    CHECK(h617.find("FGRET_REGS_") == std::string::npos);
}

TEST_CASE("ftrace_source: Kconfig overrides and their rules") {
    const auto& era = emu::era_info(emu::KernelEra::V6_17);
    const auto& args = patcher::trampoline_layout(TrampolineVariant::Args);
    const auto& call_ops = patcher::trampoline_layout(TrampolineVariant::CallOps);
    auto set = patcher::ftrace_source_kconfig(era, args, {"CONFIG_FUNCTION_GRAPH_TRACER=n"});
    REQUIRE(set.ok());
    CHECK(std::find(set->begin(), set->end(), "FUNCTION_GRAPH_TRACER") == set->end());
    auto ops = patcher::ftrace_source_kconfig(era, call_ops, {});
    REQUIRE(ops.ok());
    CHECK(std::find(ops->begin(), ops->end(), "DYNAMIC_FTRACE_WITH_DIRECT_CALLS") != ops->end());
    auto bad = patcher::ftrace_source_kconfig(era, args, {"FUNCTION_GRAPH_TRACER=y"});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("expected CONFIG_NAME=y") != std::string::npos);
    auto mismatch =
        patcher::ftrace_source_kconfig(era, args, {"CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS=y"});
    REQUIRE_FALSE(mismatch.ok());
    CHECK(mismatch.error().message.find("set ftrace = \"call-ops\"") != std::string::npos);
    auto regs_on_args =
        patcher::ftrace_source_kconfig(emu::era_info(emu::KernelEra::V5_5), args, {});
    REQUIRE_FALSE(regs_on_args.ok());
    CHECK(regs_on_args.error().message.find("CONFIG_DYNAMIC_FTRACE_WITH_ARGS=n") !=
          std::string::npos);
}

TEST_CASE("ftrace_source: an unknown macro or offset fails at its FILE:LINE with its name") {
    const auto& era = emu::era_info(emu::KernelEra::V6_17);
    const auto& args = patcher::trampoline_layout(TrampolineVariant::Args);
    // An asm-offset klpemu does not generate, used as an operand.
    const auto offset =
        edited_copy("entry-ftrace-args.S", "[sp, #FREGS_X8]\n", "[sp, #FREGS_ORIG_X0]\n", "offset");
    auto r = patcher::build_ftrace_source(spec(offset), era, args);
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.error().message.find(offset.string() + ":" + line_of(offset, "FREGS_ORIG_X0") +
                                         ": error: unknown macro or symbol 'FREGS_ORIG_X0'") !=
                      std::string::npos,
                  r.error().message);
    // A name the assembler takes for a symbol: caught as undefined after assembling.
    const auto symbol = edited_copy("entry-ftrace-args.S", "ldr_l\tx2, function_trace_op\n",
                                    "ldr_l\tx2, function_trace_ops\n", "symbol");
    auto u = patcher::build_ftrace_source(spec(symbol), era, args);
    REQUIRE_FALSE(u.ok());
    CHECK_MESSAGE(u.error().message.starts_with(symbol.string() + ":" +
                                                line_of(symbol, "function_trace_ops") +
                                                ": error: unknown macro or symbol "
                                                "'function_trace_ops'"),
                  u.error().message);
    // A header klpemu does not provide.
    const auto header = edited_copy("entry-ftrace-args.S", "#include <asm/insn.h>\n",
                                    "#include <asm/insn.h>\n#include <asm/kprobes.h>\n", "header");
    auto h = patcher::build_ftrace_source(spec(header), era, args);
    REQUIRE_FALSE(h.ok());
    CHECK_MESSAGE(h.error().message.find("asm/kprobes.h") != std::string::npos, h.error().message);
    CHECK(h.error().message.find(header.string() + ":" + line_of(header, "asm/kprobes.h")) !=
          std::string::npos);
}

TEST_CASE("ftrace_source: the file's own symbols are what the engine patches and probes") {
    emu::MachineConfig config;
    auto m = emu::Machine::create(config);
    REQUIRE(m.ok());
    patcher::FtraceOptions options;
    options.variant = TrampolineVariant::Regs;
    options.era = emu::KernelEra::V5_10;
    options.source = spec(kData + "entry-ftrace-regs.S");
    auto f = patcher::Ftrace::create(**m, options);
    REQUIRE_MESSAGE(f.ok(), (f.ok() ? "" : f.error().message));
    const patcher::FtraceSourceBuild* build = (*f)->source_build();
    REQUIRE(build != nullptr);
    CHECK(build->name == "entry-ftrace-regs.S");
    // Call sites branch to the file's ftrace_caller; ftrace_regs_caller is the SAVE_REGS entry.
    CHECK((*f)->trampoline() == test::fn(**m, "ftrace_regs_caller"));
    CHECK(build->object.name == "entry-ftrace-regs.S");

    // A file without the patch site the engine writes fails by name.
    const auto no_call = edited_copy("entry-ftrace-args.S",
                                     "SYM_INNER_LABEL(ftrace_call, SYM_L_GLOBAL)\n", "", "nocall");
    auto m2 = emu::Machine::create(config);
    REQUIRE(m2.ok());
    patcher::FtraceOptions o2;
    o2.source = spec(no_call);
    auto f2 = patcher::Ftrace::create(**m2, o2);
    REQUIRE_FALSE(f2.ok());
    CHECK_MESSAGE(f2.error().message.find("defines no 'ftrace_call'") != std::string::npos,
                  f2.error().message);
}

TEST_CASE("ftrace_source: prepare_ftrace_return on an era without ftrace_graph_call stops") {
    // v6.1's ftrace.c never patches ftrace_graph_call: reaching prepare_ftrace_return anyway is
    // something klpemu has no model for.
    emu::MachineConfig config;
    auto m = emu::Machine::create(config);
    REQUIRE(m.ok());
    patcher::FtraceOptions options;
    options.variant = TrampolineVariant::Regs;
    options.era = emu::KernelEra::V6_1;
    options.source = spec(kData + "entry-ftrace-regs.S");
    auto f = patcher::Ftrace::create(**m, options);
    REQUIRE_MESSAGE(f.ok(), (f.ok() ? "" : f.error().message));
    CHECK_FALSE((*f)->graph_by_caller());
    (void)(*m)->call(test::fn(**m, "prepare_ftrace_return"));
    const auto found = test::findings_of(**m, "not-modelled");
    REQUIRE_MESSAGE(found.size() == 1, test::findings_text(**m));
    CHECK(found[0].severity == Severity::Fatal);
    CHECK(found[0].message.find("kernel 6.1 does not patch ftrace_graph_call") !=
          std::string::npos);
}

TEST_CASE("ftrace_source: up to v5.19 the graph tracer needs the file's ftrace_graph_call") {
    emu::MachineConfig config;
    auto m = emu::Machine::create(config);
    REQUIRE(m.ok());
    patcher::FtraceOptions options;
    options.variant = TrampolineVariant::Regs;
    options.era = emu::KernelEra::V5_10;
    options.source = spec(kData + "entry-ftrace-regs.S");
    auto f = patcher::Ftrace::create(**m, options);
    REQUIRE_MESSAGE(f.ok(), (f.ok() ? "" : f.error().message));
    CHECK((*f)->graph_by_caller());

    const auto no_site =
        edited_copy("entry-ftrace-regs.S", "SYM_INNER_LABEL(ftrace_graph_call, SYM_L_GLOBAL)\n", "",
                    "nographcall");
    auto m2 = emu::Machine::create(config);
    REQUIRE(m2.ok());
    options.source = spec(no_site);
    auto f2 = patcher::Ftrace::create(**m2, options);
    REQUIRE_FALSE(f2.ok());
    CHECK_MESSAGE(f2.error().message.find("defines no 'ftrace_graph_call'") != std::string::npos,
                  f2.error().message);
}
