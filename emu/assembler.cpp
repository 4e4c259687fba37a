// The in-process assembler (see assembler.h): LLVM MC's GNU-compatible AsmParser drives an ELF
// object streamer, exactly as `llvm-mc -filetype=obj` does, so every guest object is a real
// ELF64 relocatable with the relocations `as` would leave for the loader. Diagnostics never
// reach stderr: the SourceMgr and MCContext handlers collect them, and the whole list becomes
// the Error message.
#include "emu/assembler.h"

#include "emu/asm_source_checks.h"
#include "emu/llvm_target.h"

#include <llvm/ADT/SmallString.h>
#include <llvm/MC/MCAsmBackend.h>
#include <llvm/MC/MCAssembler.h>
#include <llvm/MC/MCCodeEmitter.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCFragment.h>
#include <llvm/MC/MCObjectFileInfo.h>
#include <llvm/MC/MCObjectStreamer.h>
#include <llvm/MC/MCObjectWriter.h>
#include <llvm/MC/MCParser/MCAsmParser.h>
#include <llvm/MC/MCParser/MCTargetAsmParser.h>
#include <llvm/MC/MCStreamer.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

// No section of one object may grow past this: the largest guest area (the near module area)
// is 64 MiB, and a guest object is a few KiB. An expression such as `.space 0x100p0` (4 GiB,
// found by the assembler fuzzer) would otherwise make LLVM write every byte of it into memory
// and the process die of OOM.
constexpr uint64_t kMaxSectionBytes = 64ull << 20;

// The whole object's bound while LLVM writes it: the catch-all behind the located check of
// fragments (check_section_sizes), for sizes that only layout knows.
constexpr uint64_t kMaxObjectBytes = kMaxSectionBytes + (1ull << 20);
struct ObjectTooLarge {};

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

// The object writer's output: an in-memory buffer that refuses to grow past the section limit
// (the ELF writer seeks back to patch headers, hence pwrite).
class BoundedObjectStream final : public llvm::raw_pwrite_stream {
  public:
    explicit BoundedObjectStream(llvm::SmallVectorImpl<char>& out) : m_out(out) { SetUnbuffered(); }

  private:
    void write_impl(const char* ptr, size_t size) override {
        if (m_out.size() + size > kMaxObjectBytes) {
            throw ObjectTooLarge{};
        }
        m_out.append(ptr, ptr + size);
    }
    void pwrite_impl(const char* ptr, size_t size, uint64_t offset) override {
        KLP_CHECK(offset + size <= m_out.size(), "ELF writer patched bytes it had not written");
        std::copy(ptr, ptr + size, m_out.begin() + static_cast<std::ptrdiff_t>(offset));
    }
    uint64_t current_pos() const override { return m_out.size(); }

    llvm::SmallVectorImpl<char>& m_out;
};

// The most bytes `f` can add to its section, where a constant expression says so before
// layout (a count written as a label difference is left to the output bound): fills,
// `.org` targets and NOP runs are the fragments whose size comes from an
// expression the source chose rather than from what it encodes. Alignment padding depends on
// layout: check_alignment_bounds bounds the alignment instead.
std::optional<uint64_t> sized_by_expression(const llvm::MCFragment& f) {
    int64_t value = 0;
    switch (f.getKind()) {
    case llvm::MCFragment::FT_Fill: {
        const auto& fill = llvm::cast<llvm::MCFillFragment>(f);
        if (!fill.getNumValues().evaluateAsAbsolute(value) || value <= 0) {
            return std::nullopt;
        }
        // Saturate: a hex-float count such as 0x100p0 is 4.6e18, times the value size wraps.
        const uint64_t count = static_cast<uint64_t>(value);
        return count > kMaxObjectBytes ? kMaxObjectBytes + 1 : count * fill.getValueSize();
    }
    case llvm::MCFragment::FT_Org:
        if (!llvm::cast<llvm::MCOrgFragment>(f).getOffset().evaluateAsAbsolute(value) ||
            value <= 0) {
            return std::nullopt;
        }
        return static_cast<uint64_t>(value);
    case llvm::MCFragment::FT_Nops:
        return static_cast<uint64_t>(
            std::max<int64_t>(0, llvm::cast<llvm::MCNopsFragment>(f).getNumBytes()));
    default:
        return std::nullopt;
    }
}

// Before LLVM lays out and writes the object: a section that `.space`, `.fill`, `.org`
// or `.nops` would grow past kMaxSectionBytes is an error at the directive that
// crosses the limit. Returns false after reporting it.
bool check_section_sizes(const llvm::MCAssembler& as, llvm::MCContext& ctx) {
    for (const llvm::MCSection& section : as) {
        uint64_t total = 0;
        for (const llvm::MCFragment& f : section) {
            const std::optional<uint64_t> bytes = sized_by_expression(f);
            if (!bytes) {
                continue;
            }
            // `.org` names an offset, not a size: the section is then at least that long.
            total =
                f.getKind() == llvm::MCFragment::FT_Org ? std::max(total, *bytes) : total + *bytes;
            if (total > kMaxSectionBytes) {
                const llvm::SMLoc loc = f.getKind() == llvm::MCFragment::FT_Fill
                                            ? llvm::cast<llvm::MCFillFragment>(f).getLoc()
                                        : f.getKind() == llvm::MCFragment::FT_Org
                                            ? llvm::cast<llvm::MCOrgFragment>(f).getLoc()
                                        : f.getKind() == llvm::MCFragment::FT_Nops
                                            ? llvm::cast<llvm::MCNopsFragment>(f).getLoc()
                                            : llvm::SMLoc();
                ctx.reportError(loc, fmt::format("section '{}' would grow past {} MiB here (at "
                                                 "least {} bytes); klpemu's limit per section",
                                                 section.getName().str(), kMaxSectionBytes >> 20,
                                                 total));
                return false;
            }
        }
    }
    return true;
}

// LLVM's ELF writer asks MCContext for its own tables by name (`.symtab`, `.strtab`,
// `.shstrtab`, `.symtab_shndx`), and MCContext hands back a section the source already opened
// under that name: the symbol table then lands in the source's PROGBITS section and the object
// has none (the assembler fuzzer's `.section .symtab`; our ELF reader rightly refuses such an
// object). The source check reports `.section NAME` at its line; this is the catch-all for a
// name it cannot see (one a macro builds). Returns false after reporting.
bool check_reserved_section_names(const llvm::MCAssembler& as, DiagnosticCollector& diags,
                                  std::string_view file_name) {
    for (const llvm::MCSection& section : as) {
        const llvm::StringRef name = section.getName();
        if (name == ".symtab" || name == ".strtab" || name == ".shstrtab" ||
            name == ".symtab_shndx") {
            diags.add_plain(file_name,
                            fmt::format("section '{}' has the name of a table the ELF writer "
                                        "makes itself, which would replace it; rename the section",
                                        name.str()));
            return false;
        }
    }
    return true;
}

// An alignment written as an expression, known only once parsed (`.align 1-2` is 2^63 to LLVM,
// whose padding the object bound would catch only after seconds of writing it): past
// kMaxAlignmentBytes it is an error naming the section. Returns false after reporting.
bool check_alignment_bounds(const llvm::MCAssembler& as, DiagnosticCollector& diags,
                            std::string_view file_name) {
    for (const llvm::MCSection& section : as) {
        uint64_t widest = section.getAlign().value();
        for (const llvm::MCFragment& f : section) {
            if (f.getKind() == llvm::MCFragment::FT_Align) {
                widest = std::max<uint64_t>(
                    widest, llvm::cast<llvm::MCAlignFragment>(f).getAlignment().value());
            }
        }
        if (widest > kMaxAlignmentBytes) {
            diags.add_plain(file_name,
                            fmt::format("section '{}' is aligned to {:#x} bytes, past klpemu's "
                                        "limit of {} MiB (an alignment written as an expression)",
                                        section.getName().str(), widest,
                                        kMaxAlignmentBytes >> 20));
            return false;
        }
    }
    return true;
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

    BoundedObjectStream os(out);
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
    // Parse without finalizing, so the sections' sizes can be checked before LLVM writes them;
    // then finish as AsmParser::Run would (constant pools, then the streamer).
    const bool failed = parser->Run(/*NoInitialTextSection=*/false, /*NoFinalize=*/true);
    if (failed || ctx.hadError() || diags.errors() != 0) {
        return false;
    }
    auto& object_streamer = static_cast<llvm::MCObjectStreamer&>(*streamer);
    if (!check_section_sizes(object_streamer.getAssembler(), ctx) ||
        !check_alignment_bounds(object_streamer.getAssembler(), diags,
                                main->getBufferIdentifier()) ||
        !check_reserved_section_names(object_streamer.getAssembler(), diags,
                                      main->getBufferIdentifier())) {
        return false;
    }
    if (llvm::MCTargetStreamer* target_streamer = streamer->getTargetStreamer()) {
        target_streamer->emitConstantPools();
    }
    const llvm::MemoryBuffer* buffer = source_mgr.getMemoryBuffer(source_mgr.getMainFileID());
    streamer->finish(llvm::SMLoc::getFromPointer(buffer->getBufferEnd()));
    return !ctx.hadError() && diags.errors() == 0;
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
        for (const llvm::SMDiagnostic& d : check_assembly_source(*mc.mai, source_mgr)) {
            diags.add(d);
        }
        ok = diags.errors() == 0 && run_mc(mc, source_mgr, diags, out);
    } catch (const llvm_target::LlvmFatalError& fatal) {
        diags.add_plain(file_name, fatal.reason);
    } catch (const ObjectTooLarge&) {
        diags.add_plain(file_name, fmt::format("the object would grow past {} MiB (sizes that only "
                                               "layout knows, such as a .space of a label "
                                               "difference); klpemu's limit per object",
                                               kMaxObjectBytes >> 20));
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
