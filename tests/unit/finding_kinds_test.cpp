// The finding-kind registry and docs/findings.md agree: every registered kind has a `## kind`
// section and every `## kind` section names a registered kind.
#include "emu/finding_kinds.h"

#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <string>

using namespace klpemu;

TEST_CASE("docs/findings.md has one section for exactly the registry's finding kinds") {
    std::ifstream in(std::string(KLPEMU_SOURCE_ROOT) + "/docs/findings.md");
    REQUIRE(in.good());
    std::set<std::string> documented;
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("## ")) {
            CHECK_MESSAGE(documented.insert(line.substr(3)).second, "documented twice: " << line);
        }
    }
    std::set<std::string> registered;
    for (const FindingKind& k : finding_kinds()) {
        registered.insert(std::string(k.id));
        CHECK_MESSAGE(!k.summary.empty(), k.id);
        CHECK(is_finding_kind(k.id));
    }
    for (const auto& d : documented) {
        CHECK_MESSAGE(registered.count(d) == 1, "docs/findings.md documents unknown kind " << d);
    }
    for (const auto& r : registered) {
        CHECK_MESSAGE(documented.count(r) == 1, "docs/findings.md lacks a section for " << r);
    }
    CHECK(!is_finding_kind("store-bellow-sp"));
}
