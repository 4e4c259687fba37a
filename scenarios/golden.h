// Golden transcripts: `NAME.expected` lives next to `NAME.toml`. A run compares its transcript
// with the golden file and, on mismatch, shows a unified diff (what `diff -u` prints) so that a
// reviewer sees exactly which events changed; `klpemu run --update` rewrites the file.
#pragma once

#include "emu/result.h"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace klpemu::scenario {

// `dir/NAME.toml` -> `dir/NAME.expected`.
std::filesystem::path golden_path(const std::filesystem::path& scenario_file);

// The golden file's contents, nullopt if it does not exist.
Result<std::optional<std::string>> read_golden(const std::filesystem::path& path);

// Writes `text` to `path` (replacing it).
Result<void> write_golden(const std::filesystem::path& path, std::string_view text);

// A unified diff from `expected` to `actual` with `context` lines around each change; empty if
// the texts are equal. Headers are `--- expected_name` and `+++ actual_name`.
std::string unified_diff(std::string_view expected, std::string_view actual,
                         std::string_view expected_name, std::string_view actual_name,
                         int context = 3);

} // namespace klpemu::scenario
