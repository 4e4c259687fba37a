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
};

// Where module_emit_plt_entry() plugs in: asked for every out-of-range branch, it returns an
// address within reach of `place` that forwards to `target` (a PLT entry it has written), or
// nullopt to let the load fail with the out-of-range error.
class BranchRangeHook {
  public:
    virtual ~BranchRangeHook() = default;
    virtual std::optional<GuestAddr> redirect(const OutOfRangeBranch& branch) = 0;
};

struct LoadOptions {
    ObjectKind kind = ObjectKind::Kernel;
    std::optional<std::string> name;         // Overrides ObjectBytes::name in results and errors.
    BranchRangeHook* branch_hook = nullptr;  // Not owned; null: out-of-range branches are errors.
};

class Loader {
  public:
    // Places `obj` at page-aligned `base` (text, rodata, data, bss groups, each page-aligned),
    // resolves undefined symbols against `resolved_against`'s exports, applies relocations and
    // records patch sites and CFI. Errors read "OBJ: error: ..." and name the symbol/location.
    Result<LoadedObject> load(const ObjectBytes& obj, GuestAddr base, const LoadOptions& opts,
                              const SymbolTable& resolved_against) const;

    // The page-aligned number of bytes load() will occupy for `obj`, to reserve space first.
    static Result<uint64_t> layout_size(const ObjectBytes& obj);
};

} // namespace klpemu
