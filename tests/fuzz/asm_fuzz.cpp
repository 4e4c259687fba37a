// libFuzzer target for the assembler front end (emu/assembler.cpp): LLVM MC's AArch64 asm
// parser, our diagnostic capture and the in-memory ELF writer. Any text must come back as an
// object or as `FILE:LINE:COL: error:` diagnostics, never as an abort (LLVM's report_fatal_error
// is the usual way an MC front end dies). An object that does come back is fed to the ELF
// reader, which must accept what our own assembler writes.
#include "emu/assembler.h"
#include "emu/elf_object.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view source(reinterpret_cast<const char*>(data), size);
    auto object = klpemu::assemble(source, "fuzz-input.S");
    if (!object) {
        KLP_CHECK(!object.error().message.empty(), "empty assembler error");
        return 0;
    }
    auto elf = klpemu::ElfObject::parse(*object);
    KLP_CHECK(elf.ok(), "the ELF reader rejects our own assembler's object: {}",
              elf.ok() ? "" : elf.error().message);
    return 0;
}
