// Guest integers as scenario files write them and transcripts print them.
#include "scenarios/action_table.h"
#include "scenarios/guest_value.h"

#include <doctest/doctest.h>

using namespace klpemu::scenario;

TEST_CASE("format: decimal when small, negative error codes, hex addresses") {
    CHECK(format_guest_value(42) == "42");
    CHECK(format_guest_value(static_cast<uint64_t>(-16)) == "-16");
    CHECK(format_guest_value(0xffff800008000000ULL) == "0xffff800008000000");
    CHECK(format_guest_value(0x10000) == "0x10000");
}

TEST_CASE("parse: bases, signs, underscores, overflow") {
    CHECK(parse_guest_value("0x2a") == 42u);
    CHECK(parse_guest_value("0b101") == 5u);
    CHECK(parse_guest_value("0o17") == 15u);
    CHECK(parse_guest_value("1_000") == 1000u);
    CHECK(parse_guest_value("-1") == UINT64_MAX);
    CHECK(parse_guest_value("0xffff800008000000") == 0xffff800008000000ULL);
    CHECK(!parse_guest_value("0x1_0000_0000_0000_0000").has_value());
    CHECK(!parse_guest_value("12ab").has_value());
    CHECK(!parse_guest_value("").has_value());
}

TEST_CASE("actions: arguments are numbers or symbols; reach points") {
    auto call = parse_action("call f 1 -16 0x10 some_symbol");
    REQUIRE(call.ok());
    const auto& c = std::get<CallAction>(*call);
    CHECK(c.function == "f");
    REQUIRE(c.args.size() == 4);
    CHECK(std::get<uint64_t>(c.args[1]) == static_cast<uint64_t>(-16));
    CHECK(std::get<std::string>(c.args[3]) == "some_symbol");
    CHECK(!parse_action("call f 1 2 3 4 5 6 7 8 9").ok());
    CHECK(!parse_action("irq").ok());
    CHECK(parse_action("  log   spaced   text ").ok());
    CHECK(std::get<LogAction>(*parse_action("log a  b")).text == "a  b");
    CHECK(parse_reach_point("worker reaches f")->task == "worker");
    CHECK(parse_reach_point("f")->task.empty());
    CHECK(!parse_reach_point("worker arrives f").ok());
}
