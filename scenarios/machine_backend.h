// The Backend that runs scenarios on the real machine (emu/machine.h): objects through the
// assembler/compiler and the loader, tasks and CPUs through the machine's scheduler, log
// lines and findings through its observers.
#pragma once

#include "scenarios/backend.h"

namespace klpemu::scenario {

// A factory creating one machine per scenario, configured from its [machine] table.
BackendFactory machine_backend_factory();

} // namespace klpemu::scenario
