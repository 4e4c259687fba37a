// The in-process assembler (see assembler.h): LLVM MC's GNU-compatible AsmParser drives an ELF
// object streamer, exactly as `llvm-mc -filetype=obj` does, so every guest object is a real
// ELF64 relocatable with the relocations `as` would leave for the loader. Diagnostics never
// reach stderr: the SourceMgr and MCContext handlers collect them, and the whole list becomes
// the Error message.
#include "emu/assembler.h"

#include "emu/llvm_target.h"

#include <llvm/ADT/SmallString.h>
#include <llvm/MC/MCAsmBackend.h>
#include <llvm/MC/MCCodeEmitter.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCObjectFileInfo.h>
#include <llvm/MC/MCObjectWriter.h>
#include <llvm/MC/MCParser/MCAsmParser.h>
#include <llvm/MC/MCParser/MCTargetAsmParser.h>
#include <llvm/MC/MCStreamer.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/raw_ostream.h>

#include <string>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace klpemu {

namespace {

// Past this many errors the assembly stops, as clang's -ferror-limit does. Without a limit a
// recursive macro whose every expansion fails (each level invokes the macro again, until
// LLVM's nesting limit of 20 errors out) runs for an exponential time: a hang found by the
// assembler fuzzer (tests/data/fuzz-regressions/asm/).
constexpr int kErrorLimit = 20;

// Thrown by the collector at the limit; unwinds out of the parser like LlvmFatalError (and,
// like it, leaks the MC state of this one assembly: LLVM's frames run no destructors).
struct TooManyErrors {};

// Both throws above unwind through LLVM's parser frames, which run no destructors: the MC state
// of that one assembly leaks, by design (bounded: one assembly's parser). LeakSanitizer cannot
// tell those objects from a real leak, so under ASan the parse runs with leak tracking off;
// everything klpemu allocates outside the parse stays tracked.
#if defined(__SANITIZE_ADDRESS__)
struct LeakTrackingOff {
    LeakTrackingOff() { __lsan_disable(); }
    ~LeakTrackingOff() { __lsan_enable(); }
    LeakTrackingOff(const LeakTrackingOff&) = delete;
    LeakTrackingOff& operator=(const LeakTrackingOff&) = delete;
};
#else
struct LeakTrackingOff {};
#endif

// Collects every diagnostic in compiler style: "FILE:LINE:COL: error: MESSAGE", the source
// line and a caret line. Errors make the assembly fail; warnings and notes only accompany them.
class DiagnosticCollector {
  public:
    void add(const llvm::SMDiagnostic& d) {
        if (d.getKind() == llvm::SourceMgr::DK_Error) {
            ++m_errors;
        }
        llvm::raw_string_ostream os(m_text);
        d.print(nullptr, os, /*ShowColors=*/false);
        if (m_errors >= kErrorLimit) {
            os.flush();
            throw TooManyErrors{};
        }
    }
    void add_plain(std::string_view file_name, std::string_view message) {
        ++m_errors;
        m_text += fmt::format("{}: error: {}\n", file_name, message);
    }
    int errors() const { return m_errors; }
    const std::string& text() const { return m_text; }

  private:
    std::string m_text;
    int m_errors = 0;
};

Error diagnostics_error(const DiagnosticCollector& diags) {
    std::string text = diags.text();
    while (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    return Error{std::move(text)};
}

// Runs the MC pipeline; returns false if any error was reported (all of them are in `diags`).
bool run_mc(llvm_target::McTarget& mc, llvm::SourceMgr& source_mgr, DiagnosticCollector& diags,
            llvm::SmallVectorImpl<char>& out) {
    llvm::MCContext ctx(mc.triple, mc.mai.get(), mc.mri.get(), mc.sti.get(), &source_mgr,
                        &mc.options);
    // A DWARF line table for the assembly itself, as `as -g` (kbuild's -Wa,-gdwarf-N with
    // CONFIG_DEBUG_INFO) gives a .S file: each instruction's row names its source line (the line
    // a cpp marker `# N "file.S"` maps it to), so `break FILE:LINE` and `next` work in assembly.
    // A source that writes its own line program (`.file N`, `.loc`: a compiler's output) keeps
    // it: LLVM's parser turns generation off at its first `.file N` (tests/unit/assembler_test).
    const llvm::MemoryBuffer* main = source_mgr.getMemoryBuffer(source_mgr.getMainFileID());
    ctx.setGenDwarfForAssembly(true);
    ctx.setDwarfVersion(5);
    ctx.setMainFileName(main->getBufferIdentifier());
    ctx.setGenDwarfRootFile(main->getBufferIdentifier(), main->getBuffer());
    ctx.setDiagnosticHandler([&diags](const llvm::SMDiagnostic& d, bool, const llvm::SourceMgr&,
                                      std::vector<const llvm::MDNode*>&) { diags.add(d); });
    std::unique_ptr<llvm::MCObjectFileInfo> mofi(
        mc.target->createMCObjectFileInfo(ctx, /*PIC=*/false));
    ctx.setObjectFileInfo(mofi.get());

    llvm::raw_svector_ostream os(out);
    std::unique_ptr<llvm::MCAsmBackend> backend(
        mc.target->createMCAsmBackend(*mc.sti, *mc.mri, mc.options));
    std::unique_ptr<llvm::MCCodeEmitter> emitter(mc.target->createMCCodeEmitter(*mc.mii, ctx));
    KLP_CHECK(backend && emitter, "LLVM could not build the AArch64 ELF backend");
    std::unique_ptr<llvm::MCObjectWriter> writer = backend->createObjectWriter(os);
    std::unique_ptr<llvm::MCStreamer> streamer(mc.target->createMCObjectStreamer(
        mc.triple, ctx, std::move(backend), std::move(writer), std::move(emitter), *mc.sti));
    std::unique_ptr<llvm::MCAsmParser> parser(
        llvm::createMCAsmParser(source_mgr, ctx, *streamer, *mc.mai));
    std::unique_ptr<llvm::MCTargetAsmParser> target_parser(
        mc.target->createMCAsmParser(*mc.sti, *parser, *mc.mii, mc.options));
    KLP_CHECK(streamer && parser && target_parser, "LLVM could not build the AArch64 parser");
    parser->setTargetParser(*target_parser);
    const bool failed = parser->Run(/*NoInitialTextSection=*/false);
    return !failed && !ctx.hadError() && diags.errors() == 0;
}

} // namespace

Result<ObjectBytes> assemble(std::string_view source, std::string_view file_name,
                             const AssemblerOptions& options) {
    auto made = llvm_target::make_mc_target(options.cpu, options.features);
    if (!made) {
        return make_error("{}: {}", file_name, made.error().message);
    }
    llvm_target::McTarget& mc = **made;

    llvm::SourceMgr source_mgr;
    source_mgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(source.data(), source.size()),
                                             llvm::StringRef(file_name.data(), file_name.size())),
        llvm::SMLoc());
    // No SourceMgr handler on purpose: with one installed, LLVM 19's AsmParser passes it the
    // diagnostic *before* remapping through cpp line markers (`# 3 "x.S"`), so errors in a
    // preprocessed .S would name the wrong line. Without one, the parser hands the remapped
    // diagnostic to MCContext::diagnose, whose handler (set in run_mc) collects it.
    DiagnosticCollector diags;

    llvm::SmallString<4096> out;
    bool ok = false;
    try {
        [[maybe_unused]] const LeakTrackingOff untracked;
        ok = run_mc(mc, source_mgr, diags, out);
    } catch (const llvm_target::LlvmFatalError& fatal) {
        diags.add_plain(file_name, fatal.reason);
    } catch (const TooManyErrors&) {
        diags.add_plain(file_name, fmt::format("too many errors ({}), stopping now", kErrorLimit));
    }
    if (!ok) {
        if (diags.errors() == 0) {
            diags.add_plain(file_name, "assembly failed without a diagnostic");
        }
        return diagnostics_error(diags);
    }
    ObjectBytes object;
    object.name = std::string(file_name);
    object.bytes.assign(out.begin(), out.end());
    return object;
}

} // namespace klpemu
