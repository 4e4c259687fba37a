// The one place that builds LLVM's AArch64 MC object graph. The assembler (guest text in), the
// disassembler (transcripts, `klpemu objdump`, step views) and the cycle model (per-instruction
// costs from a core's scheduling tables) all need the same Target, register/instruction info and
// subtarget for triple aarch64-linux-gnu; this helper makes them agree. PRIVATE to emu's
// LLVM-backed .cpp files: it names llvm:: types, so no public header may include it.
#pragma once

#include "emu/result.h"

#include <llvm/MC/MCAsmInfo.h>
#include <llvm/MC/MCInst.h>
#include <llvm/MC/MCInstrInfo.h>
#include <llvm/MC/MCRegisterInfo.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/MCTargetOptions.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/TargetParser/Triple.h>

#include <memory>
#include <string_view>

namespace klpemu::llvm_target {

inline constexpr std::string_view kTriple = "aarch64-linux-gnu";

// Armv8.5-A with pointer authentication, BTI and LSE atomics: what an arm64 kernel may contain.
inline constexpr std::string_view kDefaultFeatures = "+v8.5a,+pauth,+bti,+lse";

// The MC description of one AArch64 subtarget (cpu + features). Heap-allocated by
// make_mc_target so that MCContexts may keep references into it.
struct McTarget {
    llvm::Triple triple;
    const llvm::Target* target = nullptr;
    llvm::MCTargetOptions options;
    std::unique_ptr<llvm::MCRegisterInfo> mri;
    std::unique_ptr<llvm::MCAsmInfo> mai;
    std::unique_ptr<llvm::MCInstrInfo> mii;
    std::unique_ptr<llvm::MCSubtargetInfo> sti;
};

// Thrown by the LLVM fatal-error handler this helper installs; only assemble() catches it.
struct LlvmFatalError {
    std::string reason;
};

// Registers the AArch64 target (info, MC, asm parser, disassembler) and klpemu's LLVM fatal
// error handler, exactly once per process; safe to call from anywhere, any number of times.
void initialize_once();

// Builds the MC object graph for `cpu` and a comma-separated `features` list ("+lse,-sve").
// Unknown cpu or feature names are errors (LLVM would only print a warning to stderr).
Result<std::unique_ptr<McTarget>> make_mc_target(std::string_view cpu, std::string_view features);

// True if llvm-mca's InstrBuilder can be handed `inst` (decoded for an McTarget whose
// instruction info is `mii`). LLVM 19's builder counts variadic operands as the MCInst's operand
// count minus its MCInstrDesc's, unsigned: an MCInst with fewer operands than its descriptor
// (`tsb csync`, 0xd503225f, decodes that way) makes it allocate without bound and abort the
// process. Every caller of InstrBuilder::createInstruction must ask this first and give a word
// it rejects its no-model cost instead.
bool mca_can_describe(const llvm::MCInstrInfo& mii, const llvm::MCInst& inst);

} // namespace klpemu::llvm_target
