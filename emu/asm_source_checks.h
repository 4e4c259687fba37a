// The assembler's look at the source before LLVM MC parses it (see asm_source_checks.cpp): the
// directives whose expansion or padding LLVM would let grow without bound, and the section names
// that would corrupt the object, found with LLVM's own lexer and reported at the token to fix.
// Part of the assembler (emu/assembler.cpp); LLVM types stay behind it.
#pragma once

#include <llvm/MC/MCAsmInfo.h>
#include <llvm/Support/SourceMgr.h>

#include <cstdint>
#include <vector>

namespace klpemu {

// The largest alignment an assembly may ask for: 16 MiB, far past any the kernel asks for
// (pages, 2 KiB vector tables), and the ELF file's padding to it still fits in the assembler's
// object bound. A literal one past it is an error at the operand; one written as an expression
// is checked once LLVM has parsed it.
constexpr unsigned kMaxAlignmentLog2 = 24;
constexpr uint64_t kMaxAlignmentBytes = 1ull << kMaxAlignmentLog2;

// Lexes the main buffer of `source_mgr` as `asm_info`'s dialect and returns one error
// diagnostic per problem found, in source order (empty: LLVM may parse it). After a problem
// that makes the rest of the nesting unknowable, the scan stops there.
std::vector<llvm::SMDiagnostic> check_assembly_source(const llvm::MCAsmInfo& asm_info,
                                                      const llvm::SourceMgr& source_mgr);

} // namespace klpemu
