// The finding-kind registry: every stable kind id any part of klpemu can report, with a
// one-line summary (style.md §13). Scenario files name kinds in `finding`/`no_finding`
// expectations and are checked against this list, so a misspelt kind is an error instead of an
// expectation that can never fail; docs/findings.md has one section per entry (a test enforces
// it). A new check adds its kind here, in the same commit as its docs/findings.md section.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace klpemu {

struct FindingKind {
    std::string_view id;      // e.g. "store-below-sp".
    std::string_view summary; // One line: what the finding means.
};

// Every known kind, sorted by id.
std::span<const FindingKind> finding_kinds();

// True if `id` is a registered kind.
bool is_finding_kind(std::string_view id);

// "a, b, c": every registered id, for error messages.
std::string known_finding_kinds();

} // namespace klpemu
