// The object loader: what the kernel's load_module() does to an arm64 .ko, for every piece of
// guest code (kernel image objects included). It lays out the SHF_ALLOC sections
// (layout_and_allocate), resolves undefined symbols against exports (simplify_symbols), applies
// RELA relocations with apply_relocate_add's arithmetic, and records ftrace call sites by
// relocating __patchable_function_entries (ftrace_module_init), never by scanning for NOPs.
#pragma once

#include "emu/guest_addr.h"
#include "emu/image.h"
#include "emu/object_bytes.h"
#include "emu/result.h"
#include "emu/symbol_table.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu {

inline constexpr uint64_t kLoaderPageSize = 4096;

// A CALL26/JUMP26 whose target lies beyond B/BL reach (reloc_insn_imm returned -ERANGE).
struct OutOfRangeBranch {
    std::string object;   // The object being loaded.
    uint32_t type = 0;    // R_AARCH64_CALL26 or R_AARCH64_JUMP26.
    std::string section;  // Section holding the branch, e.g. ".text" or ".init.text".
    GuestAddr place;      // Address of the branch instruction (P).
    GuestAddr target;     // Where it must go (S + A).
    std::string symbol;   // The relocation's symbol name.
    // The symbol is undefined and weak (STB_WEAK, found nowhere): simplify_symbols left it at 0,
    // so `target` is 0 + A, beyond reach of any module, and count_plts reserved a slot for it.
    bool undefined_weak = false;
};

// Where module_emit_plt_entry() plugs in: asked for every out-of-range branch, it returns an
// address within reach of `place` that forwards to `target` (a PLT entry it has written), or
// nullopt to let the load fail with the out-of-range error.
class BranchRangeHook {
  public:
    virtual ~BranchRangeHook() = default;
    virtual std::optional<GuestAddr> redirect(const OutOfRangeBranch& branch) = 0;
    // Told where each section went, after layout and before any relocation (the module loader
    // knows its .plt's sh_addr before apply_relocate_add runs).
    virtual void placed(std::string_view /*section*/, GuestRange /*range*/) {}
};

// A section the module loader adds to the object before layout, as module_frob_arch_sections
// sizes .plt, .init.plt and the ftrace trampolines: executable NOBITS, zero filled when mapped.
struct ReservedSection {
    std::string name;       // ".plt", ".init.plt", ".text.ftrace_trampoline", ...
    uint64_t size = 0;
    uint64_t alignment = 1;
};

struct LoadOptions {
    ObjectKind kind = ObjectKind::Kernel;
    std::optional<std::string> name;         // Overrides ObjectBytes::name in results and errors.
    BranchRangeHook* branch_hook = nullptr;  // Not owned; null: out-of-range branches are errors.
    std::vector<ReservedSection> reserved;   // Added to the object's sections before layout.
    // Where the `.init*` sections go (MOD_INIT_* memory, v6.5+ may place it far from the core);
    // nullopt: they are laid out with the core as before.
    std::optional<GuestAddr> init_base;
    // module_frob_arch_sections: in each RELA section of executable code, the CALL26/JUMP26
    // relocations against symbols of other sections go first, sorted by (type, symbol index,
    // addend), so PLT entries are emitted in that order.
    bool sorted_branch_relocations = false;
};

// The page-aligned bytes of the two module memories when init sections are placed apart.
struct LayoutSizes {
    uint64_t core = 0;
    uint64_t init = 0;
};

// The finding kind of a LoadWarning (docs/findings.md).
inline constexpr std::string_view kNonallocRelocation = "nonalloc-relocation";

// "OBJ: warning: nonalloc-relocation: .debug_frame+0x1c: ...", for tools that print warnings.
std::string format_load_warning(std::string_view object, const LoadWarning& warning);

// True for sections the module loader places in init memory (module_init_layout_section).
bool is_init_section(std::string_view name);

class Loader {
  public:
    // Places `obj` at page-aligned `base` (text, rodata, data, bss groups, each page-aligned),
    // resolves undefined symbols against `resolved_against`'s exports, applies relocations and
    // records patch sites and CFI. Errors read "OBJ: error: ..." (one prefix per line) and name
    // the symbol/location. An undefined weak CALL26/JUMP26 in a Kernel object branches to the
    // next instruction, as a static link does; in a module it resolves to 0 and goes to the
    // BranchRangeHook, as in the kernel. Relocations in non-allocated sections are applied in
    // host buffers; what fails there is a LoadWarning, not an error.
    Result<LoadedObject> load(const ObjectBytes& obj, GuestAddr base, const LoadOptions& opts,
                              const SymbolTable& resolved_against) const;

    // The page-aligned number of bytes load() will occupy for `obj`, to reserve space first.
    static Result<uint64_t> layout_size(const ObjectBytes& obj);
    // Core and init sizes for `obj` with `opts.reserved` added and init placed apart.
    static Result<LayoutSizes> layout_sizes(const ObjectBytes& obj, const LoadOptions& opts);
};

} // namespace klpemu
