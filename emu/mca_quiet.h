// PRIVATE to emu's llvm-mca-backed files (it names llvm:: types). llvm-mca's InstrBuilder
// prints a one-time warning on stderr the first time it sees a call and a return ("call
// instructions are not correctly modeled"); klpemu states its call latency itself
// (emu/cycle_model.h), and the warning would land in every transcript. quiet_first_warnings()
// builds one BL and one RET while stderr points at /dev/null, so the builder has already
// warned. Single-threaded use only (it redirects file descriptor 2 for the duration).
#pragma once

#include <llvm/MC/MCDisassembler/MCDisassembler.h>
#include <llvm/MCA/InstrBuilder.h>

namespace klpemu::llvm_target {

void quiet_first_warnings(llvm::mca::InstrBuilder& builder, const llvm::MCDisassembler& disasm);

} // namespace klpemu::llvm_target
