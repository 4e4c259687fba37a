// Reads a scenario TOML file into the data model of scenario_file.h. Everything a scenario can
// get wrong without running it is caught here: TOML syntax, unknown keys, wrong types, unknown
// core/ftrace/unwinder/feature/action names, missing source files, CPU numbers out of range,
// references to undeclared tasks. Every error names file:line:column and what was expected.
#pragma once

#include "emu/result.h"
#include "scenarios/scenario_file.h"

#include <filesystem>
#include <string>
#include <string_view>

namespace klpemu::scenario {

struct ParseOptions {
    // Non-empty: the kernel era every scenario is read for, as if its `[machine] kernel` said so
    // (`klpemu run --kernel`): the era's defaults apply, and explicit keys the era never had get
    // its warnings. Contract: an era name parse_kernel_era accepts.
    std::string kernel;
};

// Parses the scenario file at `file` (messages name it as given).
Result<Scenario> parse_scenario_file(const std::filesystem::path& file,
                                     const ParseOptions& options = {});

// Parses `text` as the contents of `file`; relative source paths resolve against file's folder.
Result<Scenario> parse_scenario_text(std::string_view text, const std::filesystem::path& file,
                                     const ParseOptions& options = {});

} // namespace klpemu::scenario
