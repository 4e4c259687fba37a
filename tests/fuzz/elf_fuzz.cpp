// libFuzzer target for the ELF loader (emu/elf_object.cpp, emu/loader.cpp): what the kernel's
// load_module() does to an untrusted .ko. The bytes are parsed, sized, and loaded twice, as a
// kernel object and as a module whose init sections go apart with a reserved .plt (the module
// loader's path), resolved against an empty symbol table. Every malformed object must be an
// Error naming it; nothing may crash, hang or allocate without bound.
#include "emu/elf_object.h"
#include "emu/loader.h"
#include "emu/symbol_table.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace klpemu;
    const ObjectBytes obj{"fuzz-input.o", std::vector<uint8_t>(data, data + size)};
    if (!ElfObject::parse(obj)) {
        return 0;
    }
    const SymbolTable no_exports;
    auto size_needed = Loader::layout_size(obj);
    if (!size_needed) {
        return 0;
    }
    (void)Loader().load(obj, GuestAddr(0xffff800010000000ULL), LoadOptions{}, no_exports);

    LoadOptions module;
    module.kind = ObjectKind::Module;
    module.reserved.push_back(ReservedSection{".plt", 64, 8});
    module.init_base = GuestAddr(0xffff800020000000ULL);
    if (Loader::layout_sizes(obj, module)) {
        (void)Loader().load(obj, GuestAddr(0xffff800018000000ULL), module, no_exports);
    }
    return 0;
}
