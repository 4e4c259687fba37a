// The timeline's action vocabulary: each `[[step]] do = "..."` string starts with an action
// name followed by its arguments, like a line typed at a shell (`% insmod ...` in the kernel's
// selftests). The table maps names to parsers, so a new action (ftrace, module, livepatch) is
// one entry here, one Action alternative in scenario_file.h and one case in the runner.
#pragma once

#include "emu/result.h"
#include "scenarios/scenario_file.h"

#include <span>
#include <string_view>

namespace klpemu::scenario {

struct ActionInfo {
    std::string_view name;
    std::string_view usage;   // e.g. "call FUNC [ARG...]".
    std::string_view summary;
    Result<Action> (*parse)(std::string_view arguments);
};

// Every action a step may name.
std::span<const ActionInfo> known_actions();

// Parses a whole `do` string; errors say what was expected (no location: the caller adds it).
Result<Action> parse_action(std::string_view text);

// Parses "[TASK reaches] SYMBOL".
Result<ReachPoint> parse_reach_point(std::string_view text);

// Parses a guest argument: a number (see guest_value.h) or a symbol name.
Result<GuestArg> parse_guest_arg(std::string_view word);

} // namespace klpemu::scenario
