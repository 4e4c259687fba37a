// klpemu's klp-convert: the post-link step of kpatch-build / klp-build (objtool's "klp
// post-link") that turns a livepatch module's references to non-exported symbols into the
// format the kernel defines (Documentation/livepatch/module-elf-format.rst). A livepatch module
// names such a symbol `.klp.sym.<objname>.<symname>,<sympos>`, for example through an asm label:
//
//     extern long secret_helper(long) __asm__(".klp.sym.vmlinux.secret_helper,0");
//
// The compiler leaves it undefined, with ordinary relocations. The conversion
//   - marks every undefined `.klp.sym.*` symbol SHN_LIVEPATCH (0xff20), so the module loader
//     leaves it alone;
//   - moves every relocation against one of them out of its `.rela<section>` into
//     `.klp.rela.<objname>.<section>` (SHT_RELA, SHF_ALLOC | SHF_INFO_LINK |
//     SHF_RELA_LIVEPATCH, sh_info = the same target section), one per object and section.
// Everything else (section indices, symbol indices, the other relocations) is unchanged: the
// relocations' symbol indices stay valid, as the kernel requires of a livepatch module's symtab.
#pragma once

#include "emu/object_bytes.h"
#include "emu/result.h"

namespace klpemu::patcher::livepatch {

// Converts `object` (ELF64 LE ET_REL) as above; an object without `.klp.sym.*` symbols comes
// back unchanged. Errors name the object: malformed ELF, a `.klp.sym.` name without an object.
Result<ObjectBytes> klp_convert(const ObjectBytes& object);

} // namespace klpemu::patcher::livepatch
