// apply_source_hunk (patcher/ftrace_source_hunk.h): the one-line mistakes of scenarios/own are
// the good test trampoline plus a hunk, found by text, applied exactly once or refused.
#include "patcher/ftrace_source_hunk.h"

#include <doctest/doctest.h>

namespace klpemu::patcher {
namespace {

const std::string kText = "\tmov\tx10, sp\n"
                          "\tsub\tsp, sp, #16\n"
                          "\tldp\tx0, x1, [sp]\n"
                          "\tret\n"
                          "\tldp\tx0, x1, [sp]\n"
                          "\tadd\tsp, sp, #16\n";

TEST_CASE("source hunk: deletes and inserts where the context matches, blanks normalized") {
    auto del = apply_source_hunk(kText, {" ldp x0, x1, [sp]", "-ret"});
    REQUIRE(del.ok());
    CHECK(*del == "\tmov\tx10, sp\n\tsub\tsp, sp, #16\n\tldp\tx0, x1, [sp]\n"
                  "\tldp\tx0, x1, [sp]\n\tadd\tsp, sp, #16\n");
    auto ins = apply_source_hunk(kText, {" mov   x10,  sp", "+str x9, [sp, #-8]"});
    REQUIRE(ins.ok());
    CHECK(ins->starts_with("\tmov\tx10, sp\n\tstr x9, [sp, #-8]\n\tsub\tsp, sp, #16\n"));
}

TEST_CASE("source hunk: refuses a hunk that matches twice, nowhere, or has no prefix") {
    auto twice = apply_source_hunk(kText, {"-ldp x0, x1, [sp]"});
    REQUIRE_FALSE(twice.ok());
    CHECK(twice.error().message.find("matches at 2 places (lines 3 and 5)") != std::string::npos);
    auto unique = apply_source_hunk(kText, {"-ldp x0, x1, [sp]", " add sp, sp, #16"});
    CHECK(unique.ok());
    auto missing = apply_source_hunk(kText, {"-ldp x2, x3, [sp]"});
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("'ldp x2, x3, [sp]' is not in the file") !=
          std::string::npos);
    CHECK_FALSE(apply_source_hunk(kText, {"ret"}).ok());
    CHECK_FALSE(apply_source_hunk(kText, {"+nop"}).ok());
}

} // namespace
} // namespace klpemu::patcher
