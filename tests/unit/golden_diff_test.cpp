// Golden transcripts: file naming, round trip, and the unified diff a reviewer reads.
#include "scenarios/golden.h"

#include "support/temp_dir.h"

#include <doctest/doctest.h>

using namespace klpemu::scenario;

TEST_CASE("the golden file sits next to the scenario") {
    CHECK(golden_path("a/b/calls.toml") == std::filesystem::path("a/b/calls.expected"));
}

TEST_CASE("equal texts have no diff") {
    CHECK(unified_diff("a\nb\n", "a\nb\n", "x", "y").empty());
}

TEST_CASE("a changed line in the middle gives one hunk with context") {
    const std::string expected = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
    const std::string actual = "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n";
    CHECK(unified_diff(expected, actual, "calls.expected", "transcript") ==
          "--- calls.expected\n"
          "+++ transcript\n"
          "@@ -2,7 +2,7 @@\n"
          " 2\n"
          " 3\n"
          " 4\n"
          "-5\n"
          "+FIVE\n"
          " 6\n"
          " 7\n"
          " 8\n");
}

TEST_CASE("far-apart changes give separate hunks; additions at the end") {
    std::string expected;
    for (int i = 1; i <= 20; ++i) {
        expected += std::to_string(i) + "\n";
    }
    std::string actual = expected;
    actual.replace(0, 2, "one\n");
    actual += "21\n";
    const auto diff = unified_diff(expected, actual, "a", "b");
    CHECK(diff.find("@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n") != std::string::npos);
    CHECK(diff.find("@@ -18,3 +18,4 @@\n 18\n 19\n 20\n+21\n") != std::string::npos);
}

TEST_CASE("diff against an empty golden adds everything") {
    CHECK(unified_diff("", "x\ny\n", "a", "b") == "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n");
}

TEST_CASE("golden files round-trip; a missing one reads as nullopt") {
    klpemu::test::TempDir dir;
    const auto p = dir.path() / "s.expected";
    auto missing = read_golden(p);
    REQUIRE(missing.ok());
    CHECK(!missing->has_value());
    REQUIRE(write_golden(p, "% run 10\n").ok());
    auto back = read_golden(p);
    REQUIRE(back.ok());
    CHECK(**back == "% run 10\n");
}
