// The scenario action `ftrace enable|disable FILTER [tracer=function|graph]`.
#include "scenarios/action_table.h"

#include <doctest/doctest.h>

using namespace klpemu::scenario;

TEST_CASE("ftrace action: enable and disable parse; bad forms explain themselves") {
    auto on = parse_action("ftrace enable leaf chain_* tracer=graph");
    REQUIRE(on.ok());
    const auto* a = std::get_if<FtraceAction>(&*on);
    REQUIRE(a != nullptr);
    CHECK(a->enable);
    CHECK(a->filter == "leaf chain_*");
    CHECK(a->tracer == "graph");

    auto off = parse_action("ftrace disable leaf");
    REQUIRE(off.ok());
    CHECK_FALSE(std::get<FtraceAction>(*off).enable);
    CHECK(std::get<FtraceAction>(*off).tracer == "function");

    CHECK_FALSE(parse_action("ftrace").ok());
    CHECK_FALSE(parse_action("ftrace enable").ok());
    CHECK_FALSE(parse_action("ftrace toggle leaf").ok());
    CHECK_FALSE(parse_action("ftrace disable leaf tracer=graph").ok());
    auto bad = parse_action("ftrace enable leaf tracer=mcount");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("mcount") != std::string::npos);
}
