// The kernel-era table (emu/kernel_era.h): names, consistency of each row, and the warnings a
// scenario gets when explicit keys build a kernel that never existed.
#include "emu/kernel_era.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace klpemu;
using namespace klpemu::emu;

TEST_CASE("kernel eras: the issue's names, oldest first, 6.17 by default") {
    std::vector<std::string_view> names;
    for (const KernelEraInfo& e : kernel_eras()) {
        names.push_back(e.name);
        auto parsed = parse_kernel_era(e.name);
        REQUIRE(parsed.ok());
        CHECK(*parsed == e.era);
    }
    CHECK(names == std::vector<std::string_view>{"4.19-v3", "4.19-v4", "5.5", "5.10", "6.1", "6.3",
                                                 "6.4", "6.5", "6.17"});
    CHECK(era_info(kDefaultEra).name == "6.17");
    auto bad = parse_kernel_era("5.4");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("4.19-v3, 4.19-v4, 5.5") != std::string::npos);
}

TEST_CASE("kernel eras: every row is self-consistent") {
    for (const KernelEraInfo& e : kernel_eras()) {
        CAPTURE(e.name);
        CHECK(e.allows_trampoline(e.default_trampoline));
        CHECK(era_trampoline_mismatch(e, e.default_trampoline).empty());
        CHECK(era_unwinder_mismatch(e, e.default_unwinder).empty());
        // CALL_OPS is a trampoline of its own; the era must have the feature to offer it.
        CHECK(e.allows_trampoline("call-ops") == e.has(EraFeature::CallOps));
        CHECK_FALSE(e.models.empty());
        CHECK_FALSE(e.commits.empty());
        const auto size = std::find_if(e.asm_offsets.begin(), e.asm_offsets.end(),
                                       [](const AsmOffset& o) { return o.name == "PT_REGS_SIZE"; });
        REQUIRE(size != e.asm_offsets.end());
        CHECK(size->value == e.pt_regs_size);
        const auto frame =
            std::find_if(e.asm_offsets.begin(), e.asm_offsets.end(),
                         [](const AsmOffset& o) { return o.name == "S_STACKFRAME"; });
        REQUIRE(frame != e.asm_offsets.end());
        CHECK(frame->value == e.pt_regs_stackframe);
        // Metadata records and kunwind came together; the call-site MOV moved to init with 5.5.
        CHECK((e.exception_frame == ExceptionFrame::MetaPtRegs) ==
              (e.default_unwinder == "kunwind"));
        CHECK((e.callsite_writes == CallSiteWrites::MovAtEnable) ==
              (e.era == KernelEra::V4_19_v3 || e.era == KernelEra::V4_19_v4));
    }
}

TEST_CASE("kernel eras: features appear where the history says") {
    CHECK_FALSE(era_info(KernelEra::V6_1).has(EraFeature::CallOps));
    CHECK(era_info(KernelEra::V6_3).has(EraFeature::CallOps));
    CHECK_FALSE(era_info(KernelEra::V6_3).has(EraFeature::DirectCalls));
    CHECK(era_info(KernelEra::V6_4).has(EraFeature::DirectCalls));
    CHECK_FALSE(era_info(KernelEra::V6_4).has(EraFeature::Livepatch));
    CHECK(era_info(KernelEra::V6_17).has(EraFeature::Livepatch));
    CHECK(era_info(KernelEra::V5_10).has(EraFeature::GraphCaller));
    CHECK_FALSE(era_info(KernelEra::V6_1).has(EraFeature::GraphCaller));
    CHECK(era_info(KernelEra::V6_17).has(EraFeature::ModuleInitFtracePlt));
    CHECK_FALSE(era_info(KernelEra::V6_4).has(EraFeature::ModuleInitFtracePlt));
    CHECK_FALSE(era_info(KernelEra::V5_10).has(EraFeature::CallablePlts));
    CHECK(era_info(KernelEra::V6_1).has(EraFeature::CallablePlts));
    CHECK(era_info(KernelEra::V6_17).has(EraFeature::CallablePlts));
    // struct plt_entry became adrp/add/br in v5.0: every era from 5.5 on, none of 4.19's.
    for (const KernelEraInfo& e : kernel_eras()) {
        CAPTURE(e.name);
        CHECK(e.has(EraFeature::AdrpPlts) != e.name.starts_with("4.19"));
    }
    CHECK(era_info(KernelEra::V5_5).patched_entry == PatchedEntry::CallerUnlessSaveRegs);
    CHECK(era_info(KernelEra::V4_19_v4).patched_entry == PatchedEntry::RegsCaller);
}

TEST_CASE("kernel eras: mixes that never existed are named") {
    const auto& v55 = era_info(KernelEra::V5_5);
    const std::string tramp = era_trampoline_mismatch(v55, "call-ops");
    CHECK(tramp.find("kernel 5.5 never had the 'call-ops' ftrace trampoline") != std::string::npos);
    CHECK(tramp.find("6.3, 6.4, 6.5, 6.17") != std::string::npos);
    CHECK(era_unwinder_mismatch(v55, "kunwind").find("metadata") != std::string::npos);
    CHECK_FALSE(era_unwinder_mismatch(v55, "seed-v4").empty());
    CHECK(era_unwinder_mismatch(era_info(KernelEra::V4_19_v4), "seed-v4").empty());
    CHECK(era_unwinder_mismatch(v55, "fp-naive").empty());
}

TEST_CASE("kernel eras: the Kconfig set follows the build") {
    const auto& v63 = era_info(KernelEra::V6_3);
    auto args = era_kconfig(v63, "args");
    auto ops = era_kconfig(v63, "call-ops");
    CHECK(std::count(args.begin(), args.end(), "DYNAMIC_FTRACE_WITH_CALL_OPS") == 0);
    CHECK(std::count(ops.begin(), ops.end(), "DYNAMIC_FTRACE_WITH_CALL_OPS") == 1);
    CHECK(std::count(ops.begin(), ops.end(), "DYNAMIC_FTRACE_WITH_DIRECT_CALLS") == 0);
    const auto& v617 = era_info(KernelEra::V6_17);
    auto args617 = era_kconfig(v617, "args");
    auto ops617 = era_kconfig(v617, "call-ops");
    CHECK(std::count(args617.begin(), args617.end(), "DYNAMIC_FTRACE_WITH_DIRECT_CALLS") == 0);
    CHECK(std::count(ops617.begin(), ops617.end(), "DYNAMIC_FTRACE_WITH_DIRECT_CALLS") == 1);
    auto v55 = era_kconfig(era_info(KernelEra::V5_5), "regs");
    CHECK(std::count(v55.begin(), v55.end(), "DYNAMIC_FTRACE_WITH_REGS") == 1);
    CHECK(std::count(v55.begin(), v55.end(), "DYNAMIC_FTRACE_WITH_ARGS") == 0);
}
