// Builds LLVM's AArch64 MC object graph for the assembler, disassembler and cycle model (see
// llvm_target.h). Target registration and the fatal error handler are the only process-wide
// LLVM state klpemu touches, and both are set up once through std::call_once.
#include "emu/llvm_target.h"

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/ErrorHandling.h>
#include <llvm/Support/TargetSelect.h>

#include <fmt/format.h>

#include <mutex>
#include <string>

namespace klpemu::llvm_target {

namespace {

// LLVM calls this instead of printing "LLVM ERROR" and exiting. It must not return, so it
// throws; the only LLVM entry point known to reach it for bad guest input is the assembler,
// which catches LlvmFatalError and turns it into an Error. (Unwinding through libLLVM frames
// works because Debian builds it with unwind tables; destructors of LLVM-internal objects on
// that path do not run, so the rare fatal error leaks the assembler's MC state.)
[[noreturn]] void on_fatal_error(void* /*user_data*/, const char* reason, bool /*gen_crash_diag*/) {
    throw LlvmFatalError{reason ? reason : "unknown LLVM fatal error"};
}

std::once_flag g_init_once; // One-time registration flag (not mutable program state).

bool feature_known(const llvm::MCSubtargetInfo& probe, llvm::StringRef name) {
    for (const auto& kv : probe.getAllProcessorFeatures()) {
        if (name == kv.Key) {
            return true;
        }
    }
    return false;
}

} // namespace

void initialize_once() {
    std::call_once(g_init_once, [] {
        LLVMInitializeAArch64TargetInfo();
        LLVMInitializeAArch64TargetMC();
        LLVMInitializeAArch64AsmParser();
        LLVMInitializeAArch64Disassembler();
        llvm::install_fatal_error_handler(on_fatal_error, nullptr);
    });
}

Result<std::unique_ptr<McTarget>> make_mc_target(std::string_view cpu, std::string_view features) {
    initialize_once();
    auto mc = std::make_unique<McTarget>();
    mc->triple = llvm::Triple(llvm::Triple::normalize(kTriple));
    std::string lookup_error;
    mc->target = llvm::TargetRegistry::lookupTarget(mc->triple.getTriple(), lookup_error);
    KLP_CHECK(mc->target != nullptr, "AArch64 target not registered: {}", lookup_error);

    mc->mri.reset(mc->target->createMCRegInfo(mc->triple.getTriple()));
    mc->mai.reset(mc->target->createMCAsmInfo(*mc->mri, mc->triple.getTriple(), mc->options));
    mc->mii.reset(mc->target->createMCInstrInfo());
    KLP_CHECK(mc->mri && mc->mai && mc->mii, "LLVM could not build the AArch64 MC description");

    // Validate names against a probe subtarget first: LLVM only warns on stderr about unknown
    // cpus and features and then silently ignores them.
    std::unique_ptr<llvm::MCSubtargetInfo> probe(
        mc->target->createMCSubtargetInfo(mc->triple.getTriple(), "generic", ""));
    KLP_CHECK(probe != nullptr, "LLVM could not build the generic AArch64 subtarget");
    if (!probe->isCPUStringValid(llvm::StringRef(cpu.data(), cpu.size()))) {
        return make_error("error: unknown AArch64 cpu '{}'", cpu);
    }
    llvm::SmallVector<llvm::StringRef, 8> parts;
    llvm::StringRef(features.data(), features.size()).split(parts, ',', -1, false);
    for (llvm::StringRef part : parts) {
        part = part.trim();
        if (part.empty()) {
            continue;
        }
        if (part[0] != '+' && part[0] != '-') {
            return make_error("error: AArch64 feature '{}' must start with '+' or '-'",
                              std::string_view(part.data(), part.size()));
        }
        if (!feature_known(*probe, part.drop_front())) {
            return make_error("error: unknown AArch64 feature '{}'",
                              std::string_view(part.data(), part.size()));
        }
    }

    mc->sti.reset(mc->target->createMCSubtargetInfo(mc->triple.getTriple(),
                                                    llvm::StringRef(cpu.data(), cpu.size()),
                                                    llvm::StringRef(features.data(), features.size())));
    KLP_CHECK(mc->sti != nullptr, "LLVM could not build subtarget {} {}", cpu, features);
    return mc;
}

bool mca_can_describe(const llvm::MCInstrInfo& mii, const llvm::MCInst& inst) {
    return inst.getNumOperands() >= mii.get(inst.getOpcode()).getNumOperands();
}

} // namespace klpemu::llvm_target
