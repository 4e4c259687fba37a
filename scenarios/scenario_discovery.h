// Finding scenario files: the command-line arguments (files, or directories searched
// recursively for *.toml in sorted order) or, with no argument, the bundled library — from the
// source tree compiled in as KLPEMU_SOURCE_ROOT, or from an installed copy at
// <exe dir>/../share/klpemu/scenarios.
#pragma once

#include "emu/result.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace klpemu::scenario {

// The bundled scenario library, if one can be found; `exe` is the running executable's path.
std::optional<std::filesystem::path> bundled_library(const std::filesystem::path& exe);

// Expands `args` into scenario files: files as given, directories recursively and sorted.
// A path that does not exist, or a directory without scenarios, is an error.
Result<std::vector<std::filesystem::path>> collect_scenarios(const std::vector<std::string>& args);

} // namespace klpemu::scenario
