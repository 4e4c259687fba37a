// Small text helpers of the step debugger's command language: trimming, words, numbers
// (decimal or 0x hex) and the names of event breaks.
#pragma once

#include "emu/result.h"
#include "scenarios/step_session.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::tools {

std::string_view trim(std::string_view s);
std::vector<std::string_view> split_words(std::string_view s);
// The commands of a script or a -c list: split at ';' and newlines, trimmed, without empty
// lines and '#' comments.
std::vector<std::string> script_commands(std::string_view text);
// "123", "0x7b"; error names the text.
Result<uint64_t> parse_number(std::string_view s);
// Sets the event break named `name` (patch, switch, transition, finding, irq); false if unknown.
bool set_event_break(scenario::EventBreaks& events, std::string_view name);

} // namespace klpemu::tools
