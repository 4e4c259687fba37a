// The scenario action `ftrace enable|disable FILTER [tracer=function|graph|stacktrace|save_regs]`.
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
    CHECK(bad.error().message.find("save_regs") != std::string::npos); // Lists the known ones.

    auto regs = parse_action("ftrace enable far_work tracer=save_regs");
    REQUIRE(regs.ok());
    CHECK(std::get<FtraceAction>(*regs).tracer == "save_regs");
}

TEST_CASE("ftrace action: register_direct, modify_direct, unregister_direct") {
    auto reg = parse_action("ftrace register_direct k_add1 near_tramp");
    REQUIRE(reg.ok());
    const auto& r = std::get<FtraceAction>(*reg);
    CHECK(r.direct == FtraceAction::Direct::Register);
    CHECK(r.filter == "k_add1");
    CHECK(r.trampoline == "near_tramp");

    auto mod = parse_action("ftrace modify_direct k_* far_tramp");
    REQUIRE(mod.ok());
    CHECK(std::get<FtraceAction>(*mod).direct == FtraceAction::Direct::Modify);
    CHECK(std::get<FtraceAction>(*mod).filter == "k_*");

    auto un = parse_action("ftrace unregister_direct k_add1");
    REQUIRE(un.ok());
    CHECK(std::get<FtraceAction>(*un).direct == FtraceAction::Direct::Unregister);
    CHECK(std::get<FtraceAction>(*un).trampoline.empty());

    // An ordinary enable is not a direct action.
    CHECK(std::get<FtraceAction>(*parse_action("ftrace enable leaf")).direct ==
          FtraceAction::Direct::None);
    auto missing = parse_action("ftrace register_direct k_add1");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("TRAMPOLINE") != std::string::npos);
    CHECK_FALSE(parse_action("ftrace unregister_direct k_add1 near_tramp").ok());
    CHECK_FALSE(parse_action("ftrace modify_direct k_add1 0x1234").ok());
}
