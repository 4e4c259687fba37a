// Expectations judged against recorded runs: pass, and failures that quote what happened.
#include "scenarios/expectations.h"

#include <doctest/doctest.h>

using namespace klpemu;
using namespace klpemu::scenario;

namespace {

RunRecord sample_run() {
    RunRecord run;
    run.calls.push_back({"add_one", {41}, 42});
    run.calls.push_back({"add_one", {1}, 2});
    run.calls.push_back({"fail", {}, static_cast<uint64_t>(-16)});
    run.log = {"livepatch: enabling patch 'p'", "hello"};
    Finding f;
    f.kind = "budget-exhausted";
    f.where = "spin+0x4";
    f.message = "instruction budget of 1000 exhausted";
    run.findings.push_back(f);
    run.instructions = 1000;
    run.cycles = 1500;
    return run;
}

Expectation returns(std::string fn, uint64_t v, std::optional<std::vector<GuestArg>> args = {}) {
    Expectation e;
    e.kind = ExpectKind::Returns;
    e.function = std::move(fn);
    e.value = v;
    e.args = std::move(args);
    return e;
}

Expectation with_text(ExpectKind kind, std::string text, std::string where = {}) {
    Expectation e;
    e.kind = kind;
    e.text = std::move(text);
    e.where = std::move(where);
    return e;
}

} // namespace

TEST_CASE("returns: matching calls, quoting the wrong result") {
    const auto run = sample_run();
    CHECK(evaluate(returns("add_one", 42, std::vector<GuestArg>{uint64_t{41}}), run, {}).passed);
    auto wrong = evaluate(returns("add_one", 43, std::vector<GuestArg>{uint64_t{41}}), run, {});
    CHECK(!wrong.passed);
    CHECK(wrong.detail == "add_one(41) returned 42");
    CHECK(wrong.text == "add_one(41) returns 43");
    // Without args every call must return the value.
    CHECK(evaluate(returns("add_one", 42), run, {}).detail == "add_one(1) returned 2");
    CHECK(evaluate(returns("fail", static_cast<uint64_t>(-16)), run, {}).passed);
    CHECK(evaluate(returns("nobody", 0), run, {}).detail == "no call of nobody was made");
    auto by_symbol = returns("add_one", 42, std::vector<GuestArg>{std::string("forty_one")});
    CHECK(evaluate(by_symbol, run, [](std::string_view) { return std::optional<uint64_t>{41}; }).passed);
}

TEST_CASE("log lines must and must not appear") {
    const auto run = sample_run();
    CHECK(evaluate(with_text(ExpectKind::LogPresent, "enabling patch"), run, {}).passed);
    CHECK(!evaluate(with_text(ExpectKind::LogPresent, "transition"), run, {}).passed);
    CHECK(evaluate(with_text(ExpectKind::LogAbsent, "transition"), run, {}).passed);
    auto absent = evaluate(with_text(ExpectKind::LogAbsent, "hel"), run, {});
    CHECK(!absent.passed);
    CHECK(absent.detail == "log line \"hello\"");
}

TEST_CASE("findings by kind and location; no findings") {
    const auto run = sample_run();
    CHECK(evaluate(with_text(ExpectKind::FindingPresent, "budget-exhausted"), run, {}).passed);
    CHECK(evaluate(with_text(ExpectKind::FindingPresent, "budget-exhausted", "spin"), run, {}).passed);
    CHECK(evaluate(with_text(ExpectKind::FindingPresent, "budget-exhausted", "spin+0x4"), run, {}).passed);
    auto elsewhere = evaluate(with_text(ExpectKind::FindingPresent, "budget-exhausted", "spi"), run, {});
    CHECK(!elsewhere.passed);
    CHECK(elsewhere.detail == "findings were: budget-exhausted at spin+0x4");
    CHECK(!evaluate(with_text(ExpectKind::FindingAbsent, "budget-exhausted"), run, {}).passed);
    CHECK(evaluate(with_text(ExpectKind::FindingAbsent, "store-below-sp"), run, {}).passed);
    Expectation none;
    none.kind = ExpectKind::NoFindings;
    CHECK(!evaluate(none, run, {}).passed);
    CHECK(evaluate(none, RunRecord{}, {}).passed);
}

TEST_CASE("instruction and cycle windows are inclusive") {
    const auto run = sample_run();
    Expectation e;
    e.kind = ExpectKind::InstructionWindow;
    e.low = 1000;
    e.high = 1000;
    CHECK(evaluate(e, run, {}).passed);
    e.kind = ExpectKind::CycleWindow;
    e.low = 1;
    e.high = 1499;
    auto out = evaluate(e, run, {});
    CHECK(!out.passed);
    CHECK(out.detail == "cycles = 1500");
}

TEST_CASE("location_matches: exact, or inside the named function") {
    CHECK(location_matches("f+0x8", "f"));
    CHECK(location_matches("f", "f"));
    CHECK(!location_matches("foo+0x8", "f"));
    CHECK(location_matches("anything", ""));
}
