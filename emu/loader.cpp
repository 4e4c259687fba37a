// load_module() for klpemu. The steps follow the kernel's order:
//   1. layout: SHF_ALLOC sections grouped text / rodata / data / bss like the module loader's
//      memory types, each group page aligned, each section at its sh_addralign;
//   2. symbols: defined ones get their placed address; undefined ones are looked up among the
//      exports already loaded (the kernel's resolve_symbol), weak undefined ones become 0;
//   3. relocation: every RELA section whose target is placed, with apply_relocate_add's rules;
//      an out-of-range CALL26/JUMP26 goes to the BranchRangeHook (module_emit_plt_entry). A
//      CALL26/JUMP26 to an undefined weak symbol differs by who links: in a kernel object it
//      branches to the next instruction (AArch64 ELF ABI; lld writes `bl .+4` into vmlinux), in
//      a module it targets 0 like any other relocation (simplify_symbols: "Ok if weak"), which
//      is out of reach, so it gets a PLT entry. Sections without SHF_ALLOC are relocated in host
//      buffers for klpemu's own readers (.debug_frame CFI); the kernel's apply_relocations
//      skips them, so a relocation that fails there is a LoadWarning, never a load failure;
//      SHF_RELA_LIVEPATCH sections (`.klp.rela.<obj>.<section>`, against SHN_LIVEPATCH symbols)
//      are not applied: they are kept in LoadedObject::klp_relocations for livepatch, which
//      applies them when <obj> is patched (patcher/livepatch/klp_relocations.h);
//   4. ftrace call sites: the relocated entries of __patchable_function_entries, classified into
//      the =2 and =4,2 (CALL_OPS) layouts with or without `bti c` (reference §1);
//   5. CFI: .eh_frame and .debug_frame relocated in host buffers, never placed in guest memory
//      (arm64's vmlinux.lds and module.lds discard .eh_frame). .eh_frame is relocated as if it
//      lay just past the object's extent, so its PC-relative pointers reach the code; an object
//      compiled with unwind tables therefore occupies exactly the guest memory it would occupy
//      without them, and turning the unwind check on cannot move any code.
#include "emu/loader.h"

#include "emu/elf_object.h"
#include "emu/insn_word.h"
#include "emu/relocation.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <map>
#include <tuple>

namespace klpemu {
namespace {

constexpr InsnWord kNop{0xd503201f};  // nop
constexpr InsnWord kBtiC{0xd503245f}; // bti c
constexpr std::string_view kPatchableEntries = "__patchable_function_entries";

struct Layout {
    std::vector<std::optional<GuestAddr>> addr; // By ELF section index; nullopt: not placed.
    std::vector<std::pair<uint32_t, SectionKind>> placed; // In address order.
    GuestRange extent;
    std::optional<GuestRange> init_extent;
};

// Unwind tables stay out of guest memory (step 5), even though the assembler marks them
// SHF_ALLOC.
bool is_unwind_table(const ElfSection& s) {
    return s.name == ".eh_frame";
}

bool is_plt_section(std::string_view name) {
    return name == ".plt" || name == ".init.plt" || name == ".text.ftrace_trampoline" ||
           name == ".init.text.ftrace_trampoline";
}

SectionKind classify(const ElfSection& s) {
    if (s.is_exec()) {
        return is_plt_section(s.name) ? SectionKind::Plt : SectionKind::Text;
    }
    if (s.is_nobits()) {
        return SectionKind::Bss;
    }
    if (s.is_write()) {
        return SectionKind::Data;
    }
    return SectionKind::ROData;
}

int group_of(SectionKind k) {
    switch (k) {
    case SectionKind::Text:
    case SectionKind::Plt:
        return 0;
    case SectionKind::ROData:
    case SectionKind::Other:
        return 1;
    case SectionKind::Data:
        return 2;
    case SectionKind::Bss:
        return 3;
    }
    return 1;
}

// Lays out the SHF_ALLOC sections for which `in_part` holds from `base`, group by group.
GuestAddr plan_part(const ElfObject& elf, GuestAddr base, Layout& layout,
                    const std::function<bool(const ElfSection&)>& in_part) {
    GuestAddr cursor = base;
    for (int group = 0; group < 4; ++group) {
        bool group_started = false;
        for (const auto& s : elf.sections) {
            if (s.index == 0 || !s.is_alloc() || is_unwind_table(s) ||
                group_of(classify(s)) != group || !in_part(s)) {
                continue;
            }
            if (!group_started) {
                cursor = cursor.align_up(kLoaderPageSize);
                group_started = true;
            }
            cursor = cursor.align_up(s.alignment);
            layout.addr[s.index] = cursor;
            layout.placed.emplace_back(s.index, classify(s));
            cursor += int64_t(s.size);
        }
    }
    return cursor.align_up(kLoaderPageSize);
}

// Core sections from `base`; with `init_base`, the `.init*` sections from there instead
// (layout_sections / module_init_layout_section).
Layout plan_layout(const ElfObject& elf, GuestAddr base,
                   std::optional<GuestAddr> init_base = std::nullopt) {
    Layout layout;
    layout.addr.resize(elf.sections.size());
    if (!init_base) {
        layout.extent = GuestRange{base, plan_part(elf, base, layout, [](const ElfSection&) {
                                       return true;
                                   })};
        return layout;
    }
    layout.extent = GuestRange{base, plan_part(elf, base, layout, [](const ElfSection& s) {
                                   return !is_init_section(s.name);
                               })};
    layout.init_extent = GuestRange{*init_base,
                                    plan_part(elf, *init_base, layout, [](const ElfSection& s) {
                                        return is_init_section(s.name);
                                    })};
    return layout;
}

// The object as the loader sees it after module_frob_arch_sections added `reserved`.
ElfObject with_reserved(ElfObject elf, const std::vector<ReservedSection>& reserved) {
    for (const auto& r : reserved) {
        ElfSection s;
        s.index = uint32_t(elf.sections.size());
        s.name = r.name;
        s.type = elf::kShtNobits;
        s.flags = elf::kShfAlloc | elf::kShfExecinstr;
        s.alignment = r.alignment;
        s.size = r.size;
        elf.sections.push_back(std::move(s));
    }
    return elf;
}

bool is_mapping_symbol(std::string_view name) {
    return name == "$x" || name == "$d" || name.starts_with("$x.") || name.starts_with("$d.");
}

bool is_listed_symbol(const ElfSymbol& s) {
    return !s.name.empty() && s.type != elf::kSttSection && s.type != elf::kSttFile &&
           !is_mapping_symbol(s.name) && !s.name.starts_with(".L");
}

SymbolKind symbol_kind(const ElfSymbol& s) {
    switch (s.type) {
    case elf::kSttFunc:
        return SymbolKind::Function;
    case elf::kSttObject:
        return SymbolKind::Object;
    default:
        return SymbolKind::NoType;
    }
}

// The work of one load(); holds the object being built and the lookups its steps share.
class LoadJob {
  public:
    LoadJob(const ObjectBytes& obj, const ElfObject& elf, GuestAddr base, const LoadOptions& opts,
            const SymbolTable& exports)
        : m_obj(obj), m_elf(elf), m_opts(opts), m_exports(exports),
          m_layout(plan_layout(elf, base, opts.init_base)) {}

    Result<LoadedObject> run() {
        place_sections();
        KLP_TRY(resolve_symbols());
        for (const auto& rs : m_elf.relocation_sections) {
            if ((m_elf.sections[rs.index].flags & elf::kShfRelaLivepatch) != 0) {
                keep_for_livepatch(rs);
                continue;
            }
            KLP_TRY(relocate(rs));
        }
        KLP_TRY(record_patch_sites());
        collect_cfi();
        if (m_elf.find_section(".debug_line") != nullptr) {
            m_out.line_table = std::make_shared<const UnreadLineTable>(
                UnreadLineTable{m_obj, m_layout.addr, m_out.name});
        }
        m_out.extent = m_layout.extent;
        m_out.init_extent = m_layout.init_extent;
        return std::move(m_out);
    }

  private:
    template <typename... Args> Error fail(fmt::format_string<Args...> f, Args&&... args) const {
        return Error{fmt::format("{}: error: {}", m_elf.name,
                                 fmt::format(f, std::forward<Args>(args)...))};
    }

    void warn(const ElfSection& section, uint64_t offset, std::string message) {
        m_out.warnings.push_back(LoadWarning{section.name, offset, std::move(message)});
    }

    void place_sections() {
        m_out.name = m_elf.name;
        m_out.kind = m_opts.kind;
        for (auto [index, kind] : m_layout.placed) {
            const ElfSection& s = m_elf.sections[index];
            PlacedSection p;
            p.name = s.name;
            p.kind = kind;
            p.range = GuestRange{*m_layout.addr[index], *m_layout.addr[index] + int64_t(s.size)};
            p.alignment = s.alignment;
            p.executable = s.is_exec();
            p.writable = s.is_write();
            p.bytes = s.bytes;
            if (m_opts.branch_hook != nullptr) {
                m_opts.branch_hook->placed(p.name, p.range);
            }
            m_section_slot[index] = m_out.sections.size();
            m_out.sections.push_back(std::move(p));
        }
        if (const ElfSection* df = m_elf.find_section(".debug_frame"); df && !df->is_alloc()) {
            m_debug_frame_index = df->index;
            m_unallocated[df->index] = df->bytes;
        }
        if (const ElfSection* eh = m_elf.find_section(".eh_frame"); eh && !eh->is_nobits()) {
            m_eh_frame_index = eh->index;
            m_eh_frame = eh->bytes;
            m_eh_frame_addr = m_layout.extent.end; // Past the object: no guest memory.
        }
    }

    Result<void> resolve_symbols() {
        m_value.assign(m_elf.symbols.size(), 0);
        m_undefined_weak.assign(m_elf.symbols.size(), false);
        std::vector<uint32_t> unresolved;
        std::map<std::string, uint64_t> own_globals;
        for (const auto& s : m_elf.symbols) {
            if (s.is_global() && !s.is_undefined() && s.section_index != elf::kShnCommon) {
                own_globals.emplace(s.name, 0); // Filled once placed below.
            }
        }
        for (const auto& s : m_elf.symbols) {
            if (s.index == 0 || s.type == elf::kSttFile) {
                continue;
            }
            if (s.section_index == elf::kShnCommon) {
                return fail("common symbol '{}' is not supported (compile with -fno-common, as "
                            "the kernel does)",
                            s.name);
            }
            if (s.is_absolute()) {
                m_value[s.index] = s.value;
            } else if (!s.is_undefined() && s.section_index < m_layout.addr.size()) {
                const auto& addr = m_layout.addr[s.section_index];
                m_value[s.index] = (addr ? addr->value : 0) + s.value;
                if (s.is_global()) {
                    own_globals[s.name] = m_value[s.index];
                }
            }
        }
        for (const auto& s : m_elf.symbols) {
            if (s.index == 0 || !s.is_undefined() || s.name.empty()) {
                continue;
            }
            if (auto exported = m_exports.lookup(s.name)) {
                m_value[s.index] = exported->addr.value;
            } else if (auto it = own_globals.find(s.name); it != own_globals.end()) {
                m_value[s.index] = it->second;
            } else if (s.binding == elf::kStbWeak) {
                m_value[s.index] = 0; // simplify_symbols: "Ok if weak".
                m_undefined_weak[s.index] = true;
            } else {
                unresolved.push_back(s.index);
            }
        }
        for (const auto& s : m_elf.symbols) {
            if (!is_listed_symbol(s) || s.is_undefined()) {
                continue;
            }
            const bool placed = s.is_absolute() || (s.section_index < m_layout.addr.size() &&
                                                    m_layout.addr[s.section_index].has_value());
            if (!placed) {
                continue;
            }
            m_out.symbols.push_back(Symbol{s.name, GuestAddr(m_value[s.index]), s.size,
                                           symbol_kind(s), s.is_global(), m_elf.name,
                                           s.binding == elf::kStbWeak});
        }
        m_local.add_object(m_out);
        if (unresolved.empty()) {
            return {};
        }
        std::string message;
        for (uint32_t index : unresolved) {
            if (!message.empty()) {
                message += '\n';
            }
            message += fail("undefined symbol '{}'{}", m_elf.symbols[index].name,
                            first_reference(index))
                           .message;
        }
        return Error{message};
    }

    // " (referenced from func+0x8)" for the first relocation against symbol `index`, or "".
    std::string first_reference(uint32_t index) const {
        for (const auto& rs : m_elf.relocation_sections) {
            for (const auto& r : rs.relocations) {
                if (r.symbol == index) {
                    return fmt::format(" (referenced from {})",
                                       describe_place(rs.target_section, r.offset));
                }
            }
        }
        return "";
    }

    // The guest address of `offset` in ELF section `section`; .debug_frame lives at 0,
    // .eh_frame just past the object (step 5).
    GuestAddr place_addr(uint32_t section, uint64_t offset) const {
        if (m_eh_frame_index && *m_eh_frame_index == section) {
            return m_eh_frame_addr + int64_t(offset);
        }
        const auto& addr = m_layout.addr[section];
        return (addr ? *addr : GuestAddr(0)) + int64_t(offset);
    }

    std::string describe_place(uint32_t section, uint64_t offset) const {
        if (m_layout.addr[section]) {
            return m_local.symbolize(place_addr(section, offset)).str();
        }
        return fmt::format("{}+{:#x}", m_elf.sections[section].name, offset);
    }

    std::string symbol_name(uint32_t index) const {
        if (index == 0 || index >= m_elf.symbols.size()) {
            return "*ABS*";
        }
        return m_elf.symbols[index].name;
    }

    bool is_undefined_weak(uint32_t symbol) const {
        return symbol < m_undefined_weak.size() && m_undefined_weak[symbol];
    }

    Result<void> relocate(const ElfRelocationSection& rs) {
        const uint32_t target = rs.target_section;
        const ElfSection& section = m_elf.sections[target];
        if (auto it = m_section_slot.find(target); it != m_section_slot.end()) {
            std::vector<uint8_t>& bytes = m_out.sections[it->second].bytes;
            for (const auto& r : application_order(rs, section)) {
                auto applied = relocate_one(section, r, bytes, true);
                if (!applied.ok()) {
                    return fail("{}", applied.error().message);
                }
            }
            return {};
        }
        if (m_eh_frame_index && *m_eh_frame_index == target) {
            // .eh_frame is SHF_ALLOC but kept out of guest memory (the cfi policy's input only),
            // relocated as if it sat just past the object; a failure is a warning, as below.
            for (const auto& r : rs.relocations) {
                if (auto applied = relocate_one(section, r, m_eh_frame, false); !applied.ok()) {
                    warn(section, r.offset, applied.error().message);
                }
            }
            return {};
        }
        if (section.is_alloc()) {
            return {}; // Every other SHF_ALLOC section is placed; nothing else to do.
        }
        // apply_relocations: "Don't bother with non-allocated sections". klpemu relocates them
        // for its own readers and keeps going whatever fails.
        std::vector<uint8_t>& bytes =
            m_unallocated.try_emplace(target, section.bytes).first->second;
        for (const auto& r : rs.relocations) {
            auto applied = relocate_one(section, r, bytes, false);
            if (!applied.ok()) {
                warn(section, r.offset,
                     fmt::format("{}; the kernel never applies relocations in a non-allocated "
                                 "section, so klpemu goes on",
                                 applied.error().message));
            }
        }
        return {};
    }

    // The order apply_relocate_add meets a RELA section's entries in (LoadOptions::
    // sorted_branch_relocations): PLT-candidate branches first, sorted by (type, symbol, addend).
    std::vector<ElfRelocation> application_order(const ElfRelocationSection& rs,
                                                 const ElfSection& section) const {
        std::vector<ElfRelocation> out(rs.relocations.begin(), rs.relocations.end());
        if (!m_opts.sorted_branch_relocations || !section.is_exec()) {
            return out;
        }
        auto needs_plt = [&](const ElfRelocation& r) {
            const bool branch =
                r.type == uint32_t(RelocType::Call26) || r.type == uint32_t(RelocType::Jump26);
            return branch && !(r.symbol < m_elf.symbols.size() &&
                               m_elf.symbols[r.symbol].section_index == rs.target_section);
        };
        const auto mid = std::stable_partition(out.begin(), out.end(), needs_plt);
        std::stable_sort(out.begin(), mid, [](const ElfRelocation& a, const ElfRelocation& b) {
            return std::tie(a.type, a.symbol, a.addend) < std::tie(b.type, b.symbol, b.addend);
        });
        return out;
    }

    // apply_relocations hands SHF_RELA_LIVEPATCH sections to livepatch (klp_apply_section_relocs):
    // they are kept, with their symbols' names, for when their object is patched.
    void keep_for_livepatch(const ElfRelocationSection& rs) {
        KlpRelaSection out;
        out.name = m_elf.sections[rs.index].name;
        out.target = m_elf.sections[rs.target_section].name;
        out.target_addr = m_layout.addr[rs.target_section];
        for (const auto& r : rs.relocations) {
            KlpRelocation k{r.offset, r.type, r.addend, symbol_name(r.symbol), false};
            if (r.symbol != 0 && r.symbol < m_elf.symbols.size()) {
                k.livepatch_symbol = m_elf.symbols[r.symbol].section_index == elf::kShnLivepatch;
            }
            out.relocations.push_back(std::move(k));
        }
        m_out.klp_relocations.push_back(std::move(out));
    }

    // One relocation into `bytes` (section `section`'s contents). Errors are bare messages; the
    // caller makes them a load failure (`allocated`) or a warning.
    Result<void> relocate_one(const ElfSection& section, const ElfRelocation& r,
                              std::vector<uint8_t>& bytes, bool allocated) {
        const uint32_t target = section.index;
        const GuestAddr P = place_addr(target, r.offset);
        if (!is_supported_relocation(r.type)) {
            return make_error("unsupported relocation type {} ({}) at {} against '{}'", r.type,
                              relocation_name(r.type), describe_place(target, r.offset),
                              symbol_name(r.symbol));
        }
        const uint32_t width = relocation_width(r.type);
        if (width == 0) {
            return {};
        }
        if (section.is_nobits() || r.offset > bytes.size() || bytes.size() - r.offset < width) {
            return make_error("{} at offset {:#x} lies outside section {} ({} bytes)",
                              relocation_name(r.type), r.offset, section.name, bytes.size());
        }
        RelocValues v{r.symbol < m_value.size() ? m_value[r.symbol] : 0, r.addend, P};
        const bool branch26 =
            r.type == uint32_t(RelocType::Call26) || r.type == uint32_t(RelocType::Jump26);
        if (allocated && branch26) {
            if (is_undefined_weak(r.symbol) && m_opts.kind == ObjectKind::Kernel) {
                // The ABI's rule for a static link: the branch goes to the next instruction.
                v.S = (P + int64_t(kInsnSize)).value;
                v.A = 0;
            }
            KLP_TRY(check_branch_reach(section, r, v));
        }
        auto applied = apply_relocation(r.type, std::span(bytes).subspan(r.offset, width), v);
        if (!applied.ok() && !allocated) {
            return make_error("{} against '{}'", applied.error().message, symbol_name(r.symbol));
        }
        if (!applied.ok()) {
            return make_error("{} at {} ({}) against '{}'", applied.error().message,
                              describe_place(target, r.offset), P, symbol_name(r.symbol));
        }
        return {};
    }

    // reloc_insn_imm(PREL, 2, 26) would return -ERANGE: ask the hook for a PLT, else fail.
    Result<void> check_branch_reach(const ElfSection& section, const ElfRelocation& r,
                                    RelocValues& v) const {
        const bool weak = is_undefined_weak(r.symbol);
        const GuestAddr target(v.S + uint64_t(v.A));
        if (reachable_by_branch26(v.P, target)) {
            return {};
        }
        const std::string type = r.type == uint32_t(RelocType::Call26) ? "CALL26" : "JUMP26";
        std::string symbol = symbol_name(r.symbol);
        if (r.symbol < m_elf.symbols.size() && m_elf.symbols[r.symbol].type == elf::kSttSection) {
            symbol = m_local.symbolize(target).str();
        }
        if (m_opts.branch_hook != nullptr) {
            OutOfRangeBranch branch{m_elf.name, r.type, section.name, v.P, target, symbol, weak};
            if (auto plt = m_opts.branch_hook->redirect(branch)) {
                v.S = plt->value;
                v.A = 0;
                if (!reachable_by_branch26(v.P, *plt)) {
                    return make_error("{} at {} ({}): PLT entry {} for {} is out of range too",
                                      type, describe_place(section.index, r.offset), v.P, *plt,
                                      symbol);
                }
                return {};
            }
        }
        const int64_t off = target - v.P;
        const int64_t by = off >= 0 ? off - (kBranch26Reach - int64_t(kInsnSize))
                                    : -kBranch26Reach - off;
        return make_error("{} at {} ({}) to {} ({}) is out of range by {} bytes (BL reach is "
                          "±128 MiB){}",
                          type, describe_place(section.index, r.offset), v.P, symbol, target, by,
                          weak ? "; an undefined weak symbol is 0 in a module, which only a PLT "
                                 "entry reaches"
                               : "");
    }

    std::optional<InsnWord> word_at(GuestAddr addr) const {
        for (const auto& s : m_out.sections) {
            if (s.range.contains(addr) && !s.bytes.empty() && s.range.end - addr >= 4) {
                uint32_t w = 0;
                std::memcpy(&w, s.bytes.data() + (addr - s.range.begin), 4);
                return InsnWord(w);
            }
        }
        return std::nullopt;
    }

    bool is_function_like(const Symbol& s) const {
        return s.kind == SymbolKind::Function || (s.kind == SymbolKind::NoType && s.global);
    }

    // The function symbol starting exactly at addr.
    const Symbol* function_starting_at(GuestAddr addr) const {
        const Symbol* best = nullptr;
        for (const auto& s : m_out.symbols) {
            if (s.addr == addr && is_function_like(s) &&
                (best == nullptr || (s.kind == SymbolKind::Function &&
                                     best->kind != SymbolKind::Function))) {
                best = &s;
            }
        }
        return best;
    }

    Result<void> expect_nop(const std::string& function, GuestAddr addr, std::string_view role) {
        auto w = word_at(addr);
        if (!w || *w != kNop) {
            return fail("patch site of {}: {} at {} ({}) is {}, not a NOP (d503201f)", function,
                        role, m_local.symbolize(addr), addr,
                        w ? fmt::format("{}", *w) : std::string("outside the text"));
        }
        return {};
    }

    Result<void> record_patch_sites() {
        for (auto [index, kind] : m_layout.placed) {
            if (m_elf.sections[index].name != kPatchableEntries) {
                continue;
            }
            const auto& bytes = m_out.sections[m_section_slot.at(index)].bytes;
            if (bytes.size() % 8 != 0) {
                return fail("{} is {} bytes, not a multiple of 8", kPatchableEntries,
                            bytes.size());
            }
            for (size_t off = 0; off < bytes.size(); off += 8) {
                uint64_t entry = 0;
                std::memcpy(&entry, bytes.data() + off, 8);
                KLP_TRY(record_patch_site(GuestAddr(entry)));
            }
        }
        return {};
    }

    // Classifies one __patchable_function_entries entry E (reference §1):
    //   =2:         E == func                  func: nop nop
    //   =2 + BTI:   E == func + 4              func: bti c ; nop nop
    //   =4,2:       E == func - 8              E: nop nop (literal) ; func: [bti c] nop nop
    Result<void> record_patch_site(GuestAddr E) {
        PatchSite site;
        site.entry = E;
        const Symbol* function = function_starting_at(E);
        GuestAddr start = E;
        if (function == nullptr) {
            if (const Symbol* after = function_starting_at(E + 8)) {
                function = after;
                start = E + 8;
                site.ops_literal = E;
            } else if (auto containing = m_local.symbolize(E); !containing.base.empty() &&
                                                               containing.offset == 4) {
                const Symbol* f = function_starting_at(E - 4);
                if (f != nullptr && word_at(E - 4) == kBtiC) {
                    function = f;
                    start = E - 4;
                }
            }
        }
        if (function == nullptr) {
            return fail("{} entry {} ({}) is not at the entry of a function", kPatchableEntries,
                        m_local.symbolize(E), E);
        }
        site.function = function->name;
        site.function_addr = function->addr;
        site.bti = word_at(start) == kBtiC;
        site.first_nop = site.bti ? start + 4 : start;
        site.rec_ip = site.first_nop + 4;
        if (site.ops_literal) {
            if (!site.ops_literal->is_aligned(8)) {
                return fail("misaligned patch-site {}: the CALL_OPS literal at {} is not 8-byte "
                            "aligned (build with -falign-functions=8)",
                            site.function, *site.ops_literal);
            }
            KLP_TRY(expect_nop(site.function, E, "ops literal (low half)"));
            KLP_TRY(expect_nop(site.function, E + 4, "ops literal (high half)"));
        }
        KLP_TRY(expect_nop(site.function, site.first_nop, "first NOP"));
        KLP_TRY(expect_nop(site.function, site.rec_ip, "rec->ip NOP"));
        m_out.patch_sites.push_back(std::move(site));
        return {};
    }

    void collect_cfi() {
        if (m_eh_frame_index) {
            m_out.cfi.push_back(CfiSection{".eh_frame", m_eh_frame_addr, m_eh_frame});
        }
        if (m_debug_frame_index) {
            m_out.cfi.push_back(
                CfiSection{".debug_frame", GuestAddr(0), m_unallocated.at(*m_debug_frame_index)});
        }
    }

    const ObjectBytes& m_obj;
    const ElfObject& m_elf;
    const LoadOptions& m_opts;
    const SymbolTable& m_exports;
    Layout m_layout;
    LoadedObject m_out;
    SymbolTable m_local; // This object alone, to name places in messages.
    std::map<uint32_t, size_t> m_section_slot; // ELF section index -> m_out.sections index.
    std::vector<uint64_t> m_value;             // Symbol index -> S.
    std::vector<bool> m_undefined_weak;        // Symbol index -> weak and found nowhere.
    std::optional<uint32_t> m_debug_frame_index;
    // Non-allocated sections relocated for klpemu's readers, at virtual address 0.
    std::map<uint32_t, std::vector<uint8_t>> m_unallocated;
    std::optional<uint32_t> m_eh_frame_index;
    std::vector<uint8_t> m_eh_frame;
    GuestAddr m_eh_frame_addr;
};

} // namespace

Result<LoadedObject> Loader::load(const ObjectBytes& obj, GuestAddr base, const LoadOptions& opts,
                                  const SymbolTable& resolved_against) const {
    const std::string_view name = opts.name ? std::string_view(*opts.name) : obj.name;
    if (!base.is_aligned(kLoaderPageSize)) {
        return make_error("{}: error: load address {} is not page aligned", name, base);
    }
    KLP_TRY_ASSIGN(elf, ElfObject::parse(obj, name));
    if (opts.init_base && !opts.init_base->is_aligned(kLoaderPageSize)) {
        return make_error("{}: error: init load address {} is not page aligned", name,
                          *opts.init_base);
    }
    if (opts.reserved.empty()) {
        return LoadJob(obj, elf, base, opts, resolved_against).run();
    }
    return LoadJob(obj, with_reserved(std::move(elf), opts.reserved), base, opts, resolved_against)
        .run();
}

Result<uint64_t> Loader::layout_size(const ObjectBytes& obj) {
    KLP_TRY_ASSIGN(elf, ElfObject::parse(obj));
    return plan_layout(elf, GuestAddr(0)).extent.size();
}

Result<LayoutSizes> Loader::layout_sizes(const ObjectBytes& obj, const LoadOptions& opts) {
    KLP_TRY_ASSIGN(elf, ElfObject::parse(obj));
    const Layout layout =
        plan_layout(with_reserved(std::move(elf), opts.reserved), GuestAddr(0), GuestAddr(0));
    return LayoutSizes{layout.extent.size(), layout.init_extent->size()};
}

bool is_init_section(std::string_view name) { return name.starts_with(".init"); }

std::string format_load_warning(std::string_view object, const LoadWarning& warning) {
    return fmt::format("{}: warning: {}: {}+{:#x}: {}", object, kNonallocRelocation,
                       warning.section, warning.offset, warning.message);
}

} // namespace klpemu
