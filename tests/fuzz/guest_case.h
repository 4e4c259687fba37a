// One guest-execution fuzz case: a complete scenario (emulated machine, kernel object holding
// random instruction streams as functions, tasks, a timeline with IRQ points, ftrace on or off,
// the reliability check on) generated from a seed. Running it through the real scenario runner
// exercises everything a user's scenario can reach: assembler, loader, text guard, Unicorn,
// ftrace's text pokes and trampolines, the unwinder checker.
#pragma once

#include <cstdint>
#include <string>

namespace klpemu::fuzz {

struct GuestCase {
    uint64_t seed = 0;
    int cpus = 1;
    std::string ftrace; // "" = ftrace off, else the trampoline variant.
    std::string cycles; // "" = the default (fast) cycle model, else "pipeline".
    size_t words = 0;   // Random words across all streams.
    std::string toml;   // The scenario text.
};

// The case for `seed` (deterministic).
GuestCase make_guest_case(uint64_t seed);

} // namespace klpemu::fuzz
