// Loading and printing modules for `klpemu objdump` (see objdump_modules.h). The loading is
// Modules::load itself, on a machine that never runs: what objdump prints is what a scenario's
// machine would hold after the same loads, PLT entries decoded back from guest memory.
#include "tools/objdump_modules.h"

#include "emu/loader.h"
#include "emu/relocation.h"
#include "patcher/module_plts.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <string>

namespace klpemu::tools {

namespace {

constexpr uint64_t kPageSize = 4096;
constexpr std::array<std::string_view, 4> kModuleStubSections{
    ".plt", ".text.ftrace_trampoline", ".init.plt", ".init.text.ftrace_trampoline"};

std::string hex(GuestAddr a) {
    return fmt::format("{:#x}", a.value);
}

bool is_stub_section(std::string_view name) {
    return std::find(kModuleStubSections.begin(), kModuleStubSections.end(), name) !=
           kModuleStubSections.end();
}

// One named address range of a module, with a remark for the text listing.
struct Region {
    std::string name;
    GuestRange range;
    std::string note;
};

// The span of `memory`'s sections that are (or are not) executable, stubs excluded.
std::optional<GuestRange> span_of(const LoadedObject& obj, GuestRange memory, bool executable) {
    std::optional<GuestRange> span;
    for (const PlacedSection& s : obj.sections) {
        if (s.range.size() == 0 || s.executable != executable || is_stub_section(s.name) ||
            !memory.contains(s.range.begin)) {
            continue;
        }
        if (!span) {
            span = s.range;
        } else {
            span->begin = std::min(span->begin, s.range.begin);
            span->end = std::max(span->end, s.range.end);
        }
    }
    return span;
}

std::optional<GuestRange> section_range(const LoadedObject& obj, std::string_view name) {
    for (const PlacedSection& s : obj.sections) {
        if (s.name == name && s.range.size() != 0) {
            return s.range;
        }
    }
    return std::nullopt;
}

// Core memory, its text, data and stubs; then the same for init memory.
std::vector<Region> regions_of(const patcher::Module& m) {
    std::vector<Region> out;
    struct Memory {
        std::string_view name;
        GuestRange range;
        const patcher::PltSection& plt;
        std::string_view ftrace_plt;
    };
    for (const Memory& memory :
         {Memory{"core", m.core, m.plt, ".text.ftrace_trampoline"},
          Memory{"init", m.init, m.init_plt, ".init.text.ftrace_trampoline"}}) {
        if (memory.range.size() == 0) {
            continue;
        }
        out.push_back({std::string(memory.name), memory.range, ""});
        if (auto text = span_of(m.object, memory.range, true)) {
            out.push_back({fmt::format("{} text", memory.name), *text, ""});
        }
        if (auto data = span_of(m.object, memory.range, false)) {
            out.push_back({fmt::format("{} data", memory.name), *data, ""});
        }
        if (auto plt = section_range(m.object, memory.plt.name())) {
            out.push_back({memory.plt.name(), *plt,
                           fmt::format("{} of {} entries used", memory.plt.used(),
                                       memory.plt.max_entries())});
        }
        if (auto ftrace = section_range(m.object, memory.ftrace_plt)) {
            out.push_back({std::string(memory.ftrace_plt), *ftrace,
                           "ftrace PLT (written when ftrace is installed)"});
        }
    }
    return out;
}

// One PLT entry as guest memory holds it.
struct PltLine {
    std::string section;
    uint64_t index = 0;
    GuestAddr addr;
    std::optional<GuestAddr> target; // nullopt: the words are not a PLT entry of the era.
};

std::vector<PltLine> plts_of(const patcher::Module& m, const emu::Machine& machine) {
    std::vector<PltLine> out;
    for (const patcher::PltSection* plt : {&m.plt, &m.init_plt}) {
        for (const patcher::PltSlot& slot : plt->slots()) {
            const auto& memory = machine.memory();
            std::vector<uint32_t> words;
            for (uint64_t at = 0; at < patcher::plt_entry_size(plt->format()); at += 4) {
                words.push_back(memory.load<uint32_t>(slot.addr + int64_t(at)));
            }
            const auto entry = patcher::PltEntry::from_words(plt->format(), words);
            out.push_back(
                {plt->name(), slot.index, slot.addr, patcher::plt_entry_target(slot.addr, entry)});
        }
    }
    return out;
}

std::string target_name(const emu::Machine& machine, const std::optional<GuestAddr>& target) {
    return target ? machine.symbolize(*target).str() : "(not a PLT entry)";
}

// The module's object with executable sections' bytes as guest memory holds them.
LoadedObject as_in_memory(const LoadedObject& object, const emu::Machine& machine) {
    LoadedObject copy = object;
    for (PlacedSection& s : copy.sections) {
        const uint64_t size = s.range.size();
        if (!s.executable || size == 0) {
            continue;
        }
        s.bytes.resize(size);
        std::memcpy(s.bytes.data(), machine.memory().host_ptr(s.range.begin, size), size);
    }
    return copy;
}

} // namespace

Result<ModulePlacementOption> parse_module_placement(std::string_view text) {
    if (text == "near") {
        return ModulePlacementOption{emu::Placement::Near, {}};
    }
    if (text == "far") {
        return ModulePlacementOption{emu::Placement::Far, {}};
    }
    const std::string s(text);
    char* end = nullptr;
    const uint64_t value = std::strtoull(s.c_str(), &end, 0);
    if (s.empty() || *end != '\0' || value % kPageSize != 0) {
        return make_error("klpemu objdump: error: --module-placement '{}' is not near, far or a "
                          "page-aligned address",
                          text);
    }
    return ModulePlacementOption{emu::Placement::At, GuestAddr(value)};
}

Result<ModuleImage> load_module_image(const ObjectBytes& kernel,
                                      const std::vector<ObjectBytes>& modules,
                                      std::optional<GuestAddr> base,
                                      const ModulePlacementOption& placement, emu::KernelEra era) {
    ModuleImage image;
    emu::MachineConfig config;
    config.cpus = 1;
    config.era = era;
    auto machine = emu::Machine::create(config);
    if (!machine.ok()) {
        return machine.error();
    }
    image.machine = std::move(*machine);
    emu::Machine& m = *image.machine;

    KLP_TRY_ASSIGN(size, Loader::layout_size(kernel));
    // A zero-byte reservation returns the first free kernel address without taking any.
    auto first_free = m.reserve_kernel_region(0);
    if (!first_free.ok()) {
        return first_free.error();
    }
    if (base && *base<*first_free&& * base + int64_t(size)> emu::kKernelBase) {
        return make_error("klpemu objdump: error: --base {} overlaps the machine's own guest "
                          "objects ({}..{}); with modules, use {} or above",
                          *base, emu::kKernelBase, *first_free, *first_free);
    }
    auto kernel_base = base ? Result<GuestAddr>(*base) : m.reserve_kernel_region(size);
    if (!kernel_base.ok()) {
        return kernel_base.error();
    }
    LoadOptions lopts;
    lopts.kind = ObjectKind::Kernel;
    auto loaded = Loader().load(kernel, *kernel_base, lopts, m.symbols());
    if (!loaded.ok()) {
        return loaded.error();
    }
    KLP_TRY(m.load(*loaded));
    image.kernel_base = *kernel_base;
    image.objects.push_back(std::move(*loaded));

    patcher::ModuleOptions module_options;
    module_options.plt_format = patcher::era_plt_format(m.config().era);
    image.modules = std::make_unique<patcher::Modules>(m, module_options);
    GuestAddr next_at = placement.at;
    for (const ObjectBytes& bytes : modules) {
        patcher::ModuleSpec spec;
        spec.name = bytes.name;
        spec.kind = ObjectKind::Module;
        spec.core = patcher::ModulePlace{placement.placement, next_at};
        auto module = image.modules->load(bytes, spec);
        if (!module.ok()) {
            return module.error();
        }
        const patcher::Module& mod = **module;
        next_at = std::max(mod.core.end, mod.init.end).align_up(kPageSize);
        image.objects.push_back(as_in_memory(mod.object, m));
    }
    return image;
}

void print_module_image(const ModuleImage& image) {
    const emu::Machine& machine = *image.machine;
    for (const auto& mod : image.modules->modules()) {
        fmt::print("{}: module core at {} from the kernel ({}), init at {} from the core\n\n",
                   mod->name, patcher::format_distance(image.kernel_base, mod->core.begin),
                   reachable_by_branch26(mod->core.begin, image.kernel_base) ? "in BL reach"
                                                                             : "out of BL reach",
                   patcher::format_distance(mod->core.begin, mod->init.begin));
        fmt::print("Module regions:\n");
        for (const Region& r : regions_of(*mod)) {
            fmt::print("  {:<30} {}..{}  size {:#x}{}\n", r.name, r.range.begin, r.range.end,
                       r.range.size(), r.note.empty() ? "" : "  " + r.note);
        }
        fmt::print("\nPLT entries:\n");
        const auto plts = plts_of(*mod, machine);
        if (plts.empty()) {
            fmt::print("  (none)\n");
        }
        for (const PltLine& p : plts) {
            fmt::print("  {}[{}] at {} -> {}\n", p.section, p.index, hex(p.addr),
                       target_name(machine, p.target));
        }
        fmt::print("\n");
    }
}

nlohmann::json module_image_json(const ModuleImage& image) {
    const emu::Machine& machine = *image.machine;
    nlohmann::json out = nlohmann::json::array();
    for (const auto& mod : image.modules->modules()) {
        nlohmann::json regions = nlohmann::json::array();
        for (const Region& r : regions_of(*mod)) {
            regions.push_back({{"name", r.name},
                               {"address", hex(r.range.begin)},
                               {"end", hex(r.range.end)},
                               {"size", r.range.size()}});
        }
        nlohmann::json plts = nlohmann::json::array();
        for (const PltLine& p : plts_of(*mod, machine)) {
            plts.push_back({{"section", p.section},
                            {"index", p.index},
                            {"address", hex(p.addr)},
                            {"target", target_name(machine, p.target)},
                            {"target_address", p.target ? hex(*p.target) : ""}});
        }
        out.push_back({{"name", mod->name}, {"regions", regions}, {"plts", plts}});
    }
    return out;
}

} // namespace klpemu::tools
