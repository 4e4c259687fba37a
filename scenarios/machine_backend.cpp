// The machine-backed Backend (see machine_backend.h). Until emu/machine.h lands, the factory
// reports that scenarios cannot execute; everything up to execution (parsing, validation,
// requirements) still works.
#include "scenarios/machine_backend.h"

#include "scenarios/toml_reader.h"

namespace klpemu::scenario {

BackendFactory machine_backend_factory() {
    return [](const Scenario& scenario, ChromeTraceProcess*) -> Result<std::unique_ptr<Backend>> {
        return make_error("{}: error: cannot run: this build has no machine yet",
                          scenario.file.string());
    };
}

} // namespace klpemu::scenario
