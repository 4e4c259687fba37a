// Module loading, PLTs and module ftrace PLTs (see modules.h). The order is load_module's:
// module_frob_arch_sections (count and reserve), layout into core and init memory, simplify
// symbols and apply_relocate_add (emitting PLT entries on -ERANGE), module_finalize
// (module_init_ftrace_plt), ftrace_module_init and ftrace_module_enable; then, after the
// caller has run the init function, do_init_module frees init memory.
#include "patcher/modules.h"

#include "emu/elf_object.h"
#include "emu/loader.h"
#include "emu/relocation.h"
#include "patcher/ftrace.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace klpemu::patcher {

namespace {

constexpr std::string_view kPlt = ".plt";
constexpr std::string_view kInitPlt = ".init.plt";
constexpr std::string_view kFtracePlt = ".text.ftrace_trampoline";
constexpr std::string_view kInitFtracePlt = ".init.text.ftrace_trampoline";
constexpr uint32_t kUdf = 0x00000000; // udf #0: what freed init text is poisoned with

uint64_t adjusted(uint64_t count, int64_t adjust) {
    const int64_t n = int64_t(count) + adjust;
    return n < 0 ? 0 : uint64_t(n);
}

// Where the kernel's entry for an undefined weak symbol really goes (see plt_entry_as_kernel).
std::string weak_entry_effect(const PltSlot& slot) {
    if (slot.entry.insn[0] == kBreakFault) {
        return "the entry's ADRP is brk #0x100 (AARCH64_BREAK_FAULT)";
    }
    if (auto to = plt_entry_target(slot.addr, slot.entry)) {
        return fmt::format("the entry branches to {}", *to);
    }
    return "the entry branches nowhere klpemu can decode";
}

// get_modinfo(info, tag) != NULL: `.modinfo` is a run of NUL-terminated "tag=value" strings.
bool has_modinfo(const ElfObject& elf, std::string_view tag) {
    const ElfSection* modinfo = elf.find_section(".modinfo");
    if (!modinfo) {
        return false;
    }
    const std::string_view text(reinterpret_cast<const char*>(modinfo->bytes.data()),
                                modinfo->bytes.size());
    size_t at = 0;
    while (at < text.size()) {
        const size_t end = std::min(text.find('\0', at), text.size());
        const std::string_view entry = text.substr(at, end - at);
        if (entry.size() > tag.size() && entry.substr(0, tag.size()) == tag &&
            entry[tag.size()] == '=') {
            return true;
        }
        at = end + 1;
    }
    return false;
}

} // namespace

std::string format_distance(GuestAddr from, GuestAddr to) {
    const int64_t d = to - from;
    const uint64_t mag = d < 0 ? uint64_t(-d) : uint64_t(d);
    if (mag < (uint64_t(1) << 20)) {
        return fmt::format("{}{} KiB", d < 0 ? "-" : "+", mag >> 10);
    }
    return fmt::format("{}{} MiB", d < 0 ? "-" : "+", mag >> 20);
}

// module_emit_plt_entry as the loader's BranchRangeHook: learns where .plt/.init.plt and the
// ftrace PLTs were laid out, then hands out entries from the PLT of the branch's memory.
class Modules::PltHook final : public BranchRangeHook {
  public:
    PltHook(Module& module, bool erratum, PltFormat format, uint64_t core_max, uint64_t init_max)
        : m_module(module), m_erratum(erratum), m_format(format), m_core_max(core_max),
          m_init_max(init_max) {}

    void placed(std::string_view section, GuestRange range) override {
        if (section == kPlt) {
            m_module.plt =
                PltSection(std::string(kPlt), range.begin, m_core_max, m_erratum, m_format);
        } else if (section == kInitPlt) {
            m_module.init_plt =
                PltSection(std::string(kInitPlt), range.begin, m_init_max, m_erratum, m_format);
        } else if (section == kFtracePlt) {
            m_module.ftrace_plt = range.begin;
        } else if (section == kInitFtracePlt) {
            m_module.init_ftrace_plt = range.begin;
        }
    }

    std::optional<GuestAddr> redirect(const OutOfRangeBranch& branch) override {
        PltSection& plt = is_init_section(branch.section) ? m_module.init_plt : m_module.plt;
        auto at = plt.emit(branch.target, branch.symbol, branch.undefined_weak);
        if (!at.ok()) {
            if (!m_error) {
                m_error = at.error().message;
                m_error_place = branch.place;
                m_overflow = plt.overflowed();
            }
            return std::nullopt;
        }
        return *at;
    }

    const std::optional<std::string>& error() const { return m_error; }
    GuestAddr error_place() const { return m_error_place; }
    bool overflow() const { return m_overflow; }

  private:
    Module& m_module;
    bool m_erratum;
    PltFormat m_format;
    uint64_t m_core_max;
    uint64_t m_init_max;
    std::optional<std::string> m_error;
    GuestAddr m_error_place;
    bool m_overflow = false;
};

Modules::Modules(emu::Machine& machine, ModuleOptions options, Ftrace* ftrace)
    : m_machine(machine), m_options(options), m_ftrace(ftrace),
      m_pending(size_t(machine.cpu_count())) {
    m_machine.add_observer(this);
    if (m_ftrace != nullptr) {
        m_ftrace->set_callable_hook([this](const PatchSite& site, GuestAddr entry) {
            return ftrace_plt_for(site.rec_ip, entry);
        });
    }
}

Modules::~Modules() {
    if (m_ftrace != nullptr) {
        m_ftrace->set_callable_hook(nullptr);
    }
    m_machine.remove_observer(this);
}

const Module* Modules::find(std::string_view name) const {
    for (const auto& m : m_modules) {
        if (m->name == name) {
            return m.get();
        }
    }
    return nullptr;
}

Result<const Module*> Modules::load(const ObjectBytes& bytes, const ModuleSpec& spec) {
    if (find(spec.name) != nullptr) {
        return make_error("{}: error: module is already loaded", spec.name);
    }
    KLP_TRY_ASSIGN(elf, ElfObject::parse(bytes, spec.name));
    auto module = std::make_unique<Module>();
    Module& m = *module;
    m.name = spec.name;
    m.kind = spec.kind;
    const PltFormat format = m_options.plt_format;
    m.counts = count_plts(elf, m_options.erratum_843419, format);
    m.klp = has_modinfo(elf, "livepatch");
    const uint64_t core_max = adjusted(m.counts.core, m_options.plt_reserve_adjust);
    const uint64_t init_max = adjusted(m.counts.init, m_options.plt_reserve_adjust);

    // module_frob_arch_sections: (n + 1) x sizeof(struct plt_entry) bytes of PLT per memory,
    // NR_FTRACE_PLTS ftrace PLT entries each.
    const uint64_t ftrace_plts =
        m_ftrace != nullptr ? m_ftrace->ftrace_plt_targets().size() : kNrFtracePlts;
    LoadOptions opts;
    opts.kind = spec.kind;
    opts.name = spec.name;
    opts.reserved = {
        ReservedSection{std::string(kPlt), plt_section_size(core_max, format), kPltAlignment},
        ReservedSection{std::string(kInitPlt), plt_section_size(init_max, format), kPltAlignment},
        ReservedSection{std::string(kFtracePlt), ftrace_plts * plt_entry_bytes(),
                        kFtracePltAlignment},
    };
    if (m_options.init_ftrace_plt) {
        opts.reserved.push_back(ReservedSection{
            std::string(kInitFtracePlt), ftrace_plts * plt_entry_bytes(), kFtracePltAlignment});
    }
    opts.init_base = GuestAddr(0);
    // module_frob_arch_sections sorts the branch relocations; apply_relocate_add meets them so.
    opts.sorted_branch_relocations = true;
    auto sizes = Loader::layout_sizes(bytes, opts);
    if (!sizes.ok()) {
        return sizes.error();
    }

    // module_alloc for each memory: core first, init where asked or beside the core.
    auto core = m_machine.reserve_module_region(sizes->core, spec.core.placement, spec.core.at);
    if (!core.ok()) {
        return make_error("{}: error: {}", spec.name, core.error().message);
    }
    ModulePlace init_place = spec.init.value_or(spec.core);
    if (!spec.init && spec.core.placement == emu::Placement::At) {
        init_place.at = *core + int64_t(sizes->core);
    }
    auto init = m_machine.reserve_module_region(sizes->init, init_place.placement, init_place.at);
    if (!init.ok()) {
        return make_error("{}: error: {}", spec.name, init.error().message);
    }

    PltHook hook(m, m_options.erratum_843419, format, core_max, init_max);
    opts.branch_hook = &hook;
    opts.init_base = *init;
    auto loaded = Loader().load(bytes, *core, opts, m_machine.symbols());
    if (!loaded.ok()) {
        if (hook.overflow()) {
            add_finding("plt-overflow", Severity::Error, hook.error_place(), std::nullopt, -1,
                        *hook.error());
        }
        if (hook.error()) {
            return make_error("{}\n{}: error: {}", loaded.error().message, spec.name,
                              *hook.error()); // Hook messages carry no prefix of their own.
        }
        return loaded.error();
    }
    m.object = std::move(*loaded);
    m.core = m.object.extent;
    m.init = m.object.init_extent.value_or(GuestRange{});
    KLP_TRY(m_machine.load(m.object));
    KLP_TRY(write_plts(m));
    for (std::string_view fn : {"init", "init_module"}) {
        if (auto s = m_machine.symbols().lookup_in(m.name, fn); s && !m.init_fn) {
            m.init_fn = s->addr;
        }
    }
    m_modules.push_back(std::move(module));
    if (m_ftrace != nullptr) {
        KLP_TRY(m_ftrace->add_object(m.object));
        KLP_TRY(m_ftrace->module_enable(m.object));
    }
    return &m;
}

void Modules::set_plt_slot(GuestAddr addr, LivePlt plt) {
    m_plt_slots.insert_or_assign(addr, plt);
    m_plt_filter.add(addr);
}

// Applies the PLT entries emitted while relocating, then module_init_ftrace_plt.
Result<void> Modules::write_plts(Module& m) {
    for (const PltSection* plt : {&m.plt, &m.init_plt}) {
        for (const PltSlot& slot : plt->slots()) {
            const auto bytes = slot.entry.bytes();
            KLP_TRY(m_machine.write_text_bytes(slot.addr, bytes));
            set_plt_slot(slot.addr, LivePlt{false, plt, &slot});
        }
    }
    if (m_ftrace == nullptr) {
        return {};
    }
    const std::vector<GuestAddr> targets = m_ftrace->ftrace_plt_targets();
    for (const auto& base : {m.ftrace_plt, m.init_ftrace_plt}) {
        if (!base) {
            continue;
        }
        for (size_t i = 0; i < targets.size(); ++i) {
            const GuestAddr at = *base + int64_t(i * plt_entry_bytes());
            auto entry = make_plt_entry(m_options.plt_format, at, targets[i]);
            if (!entry.ok()) {
                return make_error("{}: error: ftrace PLT at {}: {}", m.name,
                                  m_machine.symbolize(at), entry.error().message);
            }
            const auto bytes = entry->bytes();
            KLP_TRY(m_machine.write_text_bytes(at, bytes));
            set_plt_slot(at, LivePlt{true, nullptr, nullptr});
        }
    }
    return {};
}

Result<GuestAddr> Modules::emit_late_plt(std::string_view name, GuestAddr place, GuestAddr target,
                                         const std::string& symbol) {
    auto it = std::find_if(m_modules.begin(), m_modules.end(),
                           [&](const auto& m) { return m->name == name; });
    if (it == m_modules.end()) {
        return make_error("module '{}' is not loaded", name);
    }
    Module& m = **it;
    PltSection& plt = m.init.contains(place) ? m.init_plt : m.plt;
    const size_t before = plt.slots().size();
    auto at = plt.emit(target, symbol);
    if (!at.ok()) {
        if (plt.overflowed()) {
            add_finding("plt-overflow", Severity::Error, place, std::nullopt, -1,
                        at.error().message);
        }
        return make_error("{}: error: {}", m.name, at.error().message);
    }
    if (plt.slots().size() != before) {
        KLP_TRY(
            m_machine.write_text_bytes(plt.slots().back().addr, plt.slots().back().entry.bytes()));
    }
    for (const PltSlot& slot : plt.slots()) { // emit() may have moved every slot.
        set_plt_slot(slot.addr, LivePlt{false, &plt, &slot});
    }
    return *at;
}

Result<void> Modules::free_init(std::string_view name) {
    auto it = std::find_if(m_modules.begin(), m_modules.end(),
                           [&](const auto& m) { return m->name == name; });
    if (it == m_modules.end()) {
        return make_error("module '{}' is not loaded", name);
    }
    Module& m = **it;
    if (m.init_freed || m.init.size() == 0) {
        m.init_freed = true;
        return {};
    }
    if (m_ftrace != nullptr) {
        m_ftrace->remove_sites(m.init);
    }
    // The memory goes back to the allocator: poison it so that running there cannot succeed.
    const std::vector<uint8_t> poison(m.init.size(), uint8_t(kUdf));
    KLP_TRY(m_machine.write_text_bytes(m.init.begin, poison));
    std::erase_if(m_plt_slots, [&](const auto& kv) { return m.init.contains(kv.first); });
    m_freed.push_back(m.init);
    m.init_freed = true;
    return {};
}

Result<void> Modules::unload(std::string_view name) {
    auto it = std::find_if(m_modules.begin(), m_modules.end(),
                           [&](const auto& m) { return m->name == name; });
    if (it == m_modules.end()) {
        return make_error("module '{}' is not loaded", name);
    }
    Module& m = **it;
    if (!m.init_freed) {
        KLP_TRY(free_init(name));
    }
    if (m_ftrace != nullptr) {
        m_ftrace->remove_sites(m.core);
    }
    std::erase_if(m_plt_slots, [&](const auto& kv) { return m.core.contains(kv.first); });
    m_machine.symbols().remove_object(m.name);
    m_machine.forget_lines(m.name);
    m_modules.erase(it);
    return {};
}

std::optional<GuestAddr> Modules::ftrace_plt_for(GuestAddr pc, GuestAddr entry) const {
    std::optional<GuestAddr> base;
    for (const auto& m : m_modules) {
        if (m->init.contains(pc) && !m->init_freed) {
            // Before a7ed7b9d0ebb there is no init ftrace PLT: get_ftrace_plt gave the core's.
            base = m->init_ftrace_plt ? m->init_ftrace_plt : m->ftrace_plt;
            break;
        }
        if (m->core.contains(pc)) {
            base = m->ftrace_plt;
            break;
        }
    }
    if (!base || m_ftrace == nullptr) {
        return std::nullopt;
    }
    const std::vector<GuestAddr> targets = m_ftrace->ftrace_plt_targets();
    const auto it = std::find(targets.begin(), targets.end(), entry);
    if (it == targets.end()) {
        return std::nullopt; // "ftrace: no module PLT for %ps"
    }
    return *base + int64_t(size_t(it - targets.begin()) * plt_entry_bytes());
}

std::vector<std::string> Modules::describe(const Module& m) const {
    std::vector<std::string> lines;
    const GuestAddr kernel = emu::kKernelBase;
    lines.push_back(
        fmt::format("{}: core {} from the kernel ({}), init {} from the core", m.name,
                    format_distance(kernel, m.core.begin),
                    reachable_by_branch26(m.core.begin, kernel) ? "in BL reach" : "out of BL reach",
                    format_distance(m.core.begin, m.init.begin)));
    for (const PltSection* plt : {&m.plt, &m.init_plt}) {
        // Up to 4.19 an entry was four instructions (docs/modules.md): say so where it is.
        lines.push_back(fmt::format(
            "{}: {}: {} of {} entries used{}", m.name, plt->name(), plt->used(), plt->max_entries(),
            plt->format() == PltFormat::MovWide ? " (16-byte movn/movk/movk/br x16 entries)" : ""));
        for (const PltSlot& slot : plt->slots()) {
            if (slot.undefined_weak) {
                lines.push_back(
                    fmt::format("{}: {}[{}] -> {}{} (undefined weak, {}; {})", m.name, plt->name(),
                                slot.index, slot.symbol,
                                slot.shared_with.empty()
                                    ? std::string()
                                    : fmt::format(" and {}", fmt::join(slot.shared_with, ", ")),
                                slot.target, weak_entry_effect(slot)));
                continue;
            }
            lines.push_back(fmt::format("{}: {}[{}] -> {}", m.name, plt->name(), slot.index,
                                        m_machine.symbolize(slot.target)));
        }
    }
    if (m_ftrace != nullptr) {
        const std::vector<GuestAddr> targets = m_ftrace->ftrace_plt_targets();
        for (const auto& [name, at] :
             {std::pair{kFtracePlt, m.ftrace_plt}, std::pair{kInitFtracePlt, m.init_ftrace_plt}}) {
            if (!at) {
                continue;
            }
            if (targets.size() == 1) {
                lines.push_back(fmt::format("{}: {} -> {}", m.name, name,
                                            m_machine.symbolize(targets.front())));
                continue;
            }
            for (size_t i = 0; i < targets.size(); ++i) {
                lines.push_back(fmt::format("{}: {}[{}] -> {}", m.name, name, i,
                                            m_machine.symbolize(targets[i])));
            }
        }
    }
    return lines;
}

// ---- checks ------------------------------------------------------------------------------------

void Modules::on_instruction(const emu::InsnEvent& ev) {
    auto& pending = m_pending[size_t(ev.cpu)];
    if (pending && ev.task != pending->task) {
        pending.reset(); // The task died inside the entry (a fault): nothing left to compare.
    }
    if (pending && !(ev.pc > pending->slot && ev.pc < pending->slot + int64_t(plt_entry_bytes()))) {
        check_plt_exit(ev, *pending);
        pending.reset();
    }
    for (const GuestRange& freed : m_freed) {
        if (freed.contains(ev.pc) &&
            std::find(m_reported.begin(), m_reported.end(), freed.begin) == m_reported.end()) {
            m_reported.push_back(freed.begin);
            add_finding("exec-freed-init", Severity::Fatal, ev.pc, ev.cpu, ev.task,
                        fmt::format("executing init text freed after the module's init ran"));
        }
    }
    if (!m_plt_filter.may_contain(ev.pc)) {
        return;
    }
    if (auto it = m_plt_slots.find(ev.pc); it != m_plt_slots.end()) {
        if (it->second.slot != nullptr && it->second.slot->undefined_weak) {
            report_undefined_weak_call(ev, it->second);
        }
        pending = PendingPlt{m_machine.cpu_state(ev.cpu), ev.pc, it->second.ftrace, ev.task};
    }
}

void Modules::on_exception_entry(int cpu, int /*task*/, emu::ExceptionKind /*kind*/,
                                 GuestAddr /*pc*/) {
    m_pending[size_t(cpu)].reset(); // The handler's registers are not the PLT's doing.
}

void Modules::check_plt_exit(const emu::InsnEvent& ev, const PendingPlt& pending) {
    const emu::CpuState now = m_machine.cpu_state(ev.cpu);
    std::vector<std::string> changed;
    for (size_t r = 0; r < now.x.size(); ++r) {
        if (r == 16 || r == 17 || now.x[r] == pending.entry.x[r]) {
            continue;
        }
        changed.push_back(fmt::format("x{} {:#x} -> {:#x}", r, pending.entry.x[r], now.x[r]));
    }
    if (now.sp != pending.entry.sp) {
        changed.push_back(fmt::format("sp {:#x} -> {:#x}", pending.entry.sp, now.sp));
    }
    if (changed.empty()) {
        return;
    }
    add_finding("plt-clobber", Severity::Error, pending.slot, ev.cpu, ev.task,
                fmt::format("{} entry changes {} (only x16/x17 may change{})",
                            pending.ftrace ? "ftrace PLT" : "PLT", fmt::join(changed, ", "),
                            pending.ftrace ? "; ftrace_caller needs x9 and x30 intact" : ""));
}

void Modules::report_undefined_weak_call(const emu::InsnEvent& ev, const LivePlt& plt) {
    const PltSlot& slot = *plt.slot;
    std::string names = fmt::format("'{}'", slot.symbol);
    for (const std::string& other : slot.shared_with) {
        names += fmt::format(" or '{}'", other);
    }
    const GuestAddr lr(m_machine.read_x(ev.cpu, 30));
    add_finding("undefined-weak-call", Severity::Error, ev.pc, ev.cpu, ev.task,
                fmt::format("call to undefined weak {} (resolved to {}) through {}[{}], lr {}: {}",
                            names, slot.target, plt.plt->name(), slot.index,
                            m_machine.symbolize(lr), weak_entry_effect(slot)));
}

void Modules::add_finding(std::string kind, Severity severity, GuestAddr pc, std::optional<int> cpu,
                          int task, std::string message) {
    m_machine.report(std::move(kind), severity, pc, cpu, task, std::move(message));
}

} // namespace klpemu::patcher
