// How a livepatch module reaches symbols the module loader cannot give it (kernel/livepatch/
// core.c, Documentation/livepatch/module-elf-format.rst):
//
//   klp_find_object_symbol   a symbol by name in one object, `sympos` choosing among same-named
//                            ones (0: it must be unique); used for klp_func.old_name/old_sympos
//                            and for every `.klp.sym.<objname>.<symname>,<sympos>` symbol
//   klp_resolve_symbols      resolves the SHN_LIVEPATCH symbols one `.klp.rela.*` section uses
//   klp_write_section_relocs resolves, then apply_relocate_add's arithmetic on that section
//
// When: `.klp.rela.vmlinux.*` while the livepatch module itself loads (load_module's
// apply_relocations, v5.8+); `.klp.rela.<module>.*` in klp_init_object_loaded, i.e. at
// klp_enable_patch if <module> is loaded, else when it loads (klp_module_coming). arm64 has no
// clear_relocate_add, so nothing is undone when the target module goes. On arm64 since v6.17
// (91b89a634487) a late relocation into read-only text goes through the text-poke API; here it
// is Machine::write_text_bytes. A branch out of reach gets a PLT entry of the livepatch module,
// reserved by count_plts at load like any other.
//
// Where symbols are looked for: "vmlinux" is every kernel object of the scenario, counted in
// address order as kallsyms_on_each_symbol walks vmlinux; a module is its own symbol table in
// ELF order, as module_kallsyms_on_each_symbol walks it.
#pragma once

#include "emu/image.h"
#include "emu/machine.h"
#include "emu/result.h"
#include "emu/symbol_table.h"
#include "patcher/modules.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::patcher::livepatch {

struct KlpSymbolScope {
    const SymbolTable& table;
    const std::vector<std::string>& kernel_objects; // What "vmlinux" is made of.
};

// klp_find_object_symbol(objname, name, sympos); `objname` empty means vmlinux. On failure the
// error's message is the kernel's pr_err text, without the "livepatch: " prefix.
Result<Symbol> klp_find_object_symbol(const KlpSymbolScope& scope, std::string_view objname,
                                      std::string_view name, uint64_t sympos);

// What writing a livepatch module's relocations needs.
struct KlpRelocContext {
    emu::Machine& machine;
    Modules* modules; // Null: an out-of-range branch cannot get a PLT entry (an error).
    KlpSymbolScope scope;
    std::function<void(std::string)> pr_err; // One kernel log line, "livepatch: " included.
};

// klp_apply_section_relocs for every `.klp.rela.<objname>.*` section of the loaded module
// `pmod` (`objname` is "vmlinux" or a module's name): 0, or the negative errno the kernel
// returns (-EINVAL for a symbol problem, -ENOEXEC for a relocation that cannot be written),
// after logging the kernel's line.
int64_t klp_apply_section_relocs(const KlpRelocContext& ctx, const Module& pmod,
                                 std::string_view objname);

} // namespace klpemu::patcher::livepatch
