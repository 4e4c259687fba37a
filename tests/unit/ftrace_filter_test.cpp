// ftrace filter globs and variant names.
#include "patcher/ftrace_filter.h"
#include "patcher/ftrace_layout.h"

#include <doctest/doctest.h>

using namespace klpemu::patcher;

TEST_CASE("ftrace filter: names and globs") {
    CHECK(glob_match("leaf", "leaf"));
    CHECK_FALSE(glob_match("leaf", "leaf2"));
    CHECK(glob_match("chain_*", "chain_3"));
    CHECK(glob_match("*_3", "chain_3"));
    CHECK(glob_match("c?ain*", "chain_3"));
    CHECK(glob_match("*", ""));
    CHECK_FALSE(glob_match("a*b", "acbd"));
    const FtraceFilter filter("leaf, chain_*  sum9");
    CHECK(filter.globs().size() == 3);
    CHECK(filter.matches("sum9"));
    CHECK(filter.matches("chain_1"));
    CHECK_FALSE(filter.matches("main"));
    CHECK(FtraceFilter("").matches("anything"));
}

TEST_CASE("ftrace trampoline variants by name") {
    for (const char* name : {"regs-v3", "regs-v4", "regs", "args", "call-ops"}) {
        auto v = parse_trampoline_variant(name);
        REQUIRE(v.ok());
        CHECK(trampoline_layout(*v).name == name);
    }
    CHECK_FALSE(parse_trampoline_variant("mcount").ok());
    CHECK(trampoline_layout(TrampolineVariant::CallOps).call_ops);
    CHECK(trampoline_layout(TrampolineVariant::Args).pc == 104);
}
