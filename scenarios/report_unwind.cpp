// `klpemu run --report unwind`: what the reliability checker saw, per scenario. For each policy
// the boundary counts (checked, reliable and correct, unreliable, unsound, skipped) and whether
// the scenario asserted it; then every boundary where the policy's reliable trace was wrong
// (pc, symbolized, and the view); then the counts per function, so a reader sees which code the
// policy cannot unwind (unreliable) and where it lies (unsound).
#include "scenarios/report_formats.h"

#include "emu/printable_text.h"

#include <fmt/format.h>

namespace klpemu::scenario {

namespace {

std::string counts_row(std::string_view first, std::string_view policy, const UnwindCounts& c) {
    return fmt::format("  {:<28} {:<9} {:>9} {:>9} {:>10} {:>8} {:>8}\n", first, policy, c.checked,
                       c.reliable_correct, c.unreliable, c.unsound, c.skipped);
}

} // namespace

std::string report_unwind(const std::vector<ScenarioResult>& results) {
    std::string out = "\n# unwind report\n";
    for (const auto& r : results) {
        if (!r.unwind) {
            continue;
        }
        out += fmt::format("\n{} ({})\n", r.name, r.file);
        out += fmt::format("  {:<28} {:<9} {:>9} {:>9} {:>10} {:>8} {:>8}\n", "policy", "",
                           "checked", "reliable", "unreliable", "unsound", "skipped");
        for (const auto& p : r.unwind->policies) {
            out += counts_row(p.asserted ? p.policy : p.policy + " (observed)", "", p.counts);
        }
        for (const auto& p : r.unwind->policies) {
            for (const auto& u : p.unsound) {
                out += fmt::format("  unsound {}: {:#x} {} ({}) [{}]\n", p.policy, u.pc, u.where,
                                   u.view, u.task);
            }
        }
        out += fmt::format("  {:<28} {:<9} {:>9} {:>9} {:>10} {:>8} {:>8}\n", "function", "policy",
                           "checked", "reliable", "unreliable", "unsound", "skipped");
        for (const auto& f : r.unwind->functions) {
            out += counts_row(f.function, f.policy, f.counts);
        }
    }
    return printable_document(out);
}

} // namespace klpemu::scenario
