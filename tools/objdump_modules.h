// `klpemu objdump` with modules: the files after the first are loaded the way the arm64 module
// loader places and links a .ko (patcher/modules.h): into core and init memory near the kernel,
// far from it or at an address, with `.plt` / `.init.plt` entries for the branches that do not
// reach and a `.text.ftrace_trampoline` per text memory. The image is shown as load_module
// leaves it, before do_init_module: init memory still present, ftrace not installed (so the
// ftrace PLTs are reserved but still empty and call sites are still the compiler's NOPs).
#pragma once

#include "emu/guest_addr.h"
#include "emu/image.h"
#include "emu/machine.h"
#include "emu/object_bytes.h"
#include "emu/result.h"
#include "emu/symbol_table.h"
#include "patcher/modules.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace klpemu::tools {

// `--module-placement near|far|0xADDR`: where each module's core memory goes (init beside it).
// With an address, the first module goes there and each next one right after the previous.
struct ModulePlacementOption {
    emu::Placement placement = emu::Placement::Near;
    GuestAddr at;
};

// Parses `near`, `far` or a page-aligned address (`0x…`); the error names the bad value.
Result<ModulePlacementOption> parse_module_placement(std::string_view text);

// A kernel and its modules loaded into a 1-CPU machine. Members are destroyed in reverse:
// the Modules observer before the machine it observes.
struct ModuleImage {
    std::unique_ptr<emu::Machine> machine;
    std::unique_ptr<patcher::Modules> modules;
    // Kernel first, then each module, with executable sections' bytes read back from guest
    // memory (so the PLT entries written after linking are disassembled too).
    std::vector<LoadedObject> objects;
    GuestAddr kernel_base;
};

// Loads `kernel` at `base` (nullopt: the machine's first free kernel address, after its own
// guest objects, where `klpemu run` would put it) and each of `modules` through Modules::load,
// on a machine of kernel `era` (its exception entry, its struct plt_entry).
Result<ModuleImage> load_module_image(const ObjectBytes& kernel,
                                      const std::vector<ObjectBytes>& modules,
                                      std::optional<GuestAddr> base,
                                      const ModulePlacementOption& placement, emu::KernelEra era);

// Prints each module's memories, sections by role and PLT entries (`.plt[0] at 0x… -> f`).
void print_module_image(const ModuleImage& image);

// [{"name", "regions": [{"name", "address", "end", "size"}],
//   "plts": [{"section", "index", "address", "target", "target_address"}]}]
nlohmann::json module_image_json(const ModuleImage& image);

} // namespace klpemu::tools
