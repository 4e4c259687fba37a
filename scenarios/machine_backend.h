// The Backend that runs scenarios on the real machine (emu/machine.h): objects through the
// assembler/compiler and the loader, tasks and CPUs through the machine's scheduler, log
// lines and findings through its observers.
#pragma once

#include "scenarios/backend.h"
#include "scenarios/unwind_check.h"

#include <filesystem>
#include <optional>

namespace klpemu::scenario {

// A factory creating one machine per scenario, configured from its [machine] table; `request`
// adds reliability checks the command line asked for; C objects are cached in `compile_cache`
// (emu/compile_cache.h; nullopt: always compiled).
BackendFactory machine_backend_factory(UnwindRequest request = {},
                                       std::optional<std::filesystem::path> compile_cache = {});

} // namespace klpemu::scenario
