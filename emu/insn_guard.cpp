// Classifies A64 words for the text guard (see insn_guard.h).
#include "emu/insn_guard.h"

#include <array>

namespace klpemu::emu {

namespace {

// Words LLVM 19 decodes (with +all) on which Unicorn 2.0.1's translator aborts the process,
// as found by tests/fuzz/guest_translate_probe (tests/fuzz/RESULTS.md "Guest execution").
// Each entry is a mask/value pair over the encoding.
struct MaskedEncoding {
    uint32_t mask;
    uint32_t bits;
    const char* what;
};
constexpr std::array<MaskedEncoding, 0> kKnownTranslatorAborts{};

} // namespace

std::string_view word_class_name(WordClass c) {
    switch (c) {
    case WordClass::Runnable:
        return "runnable";
    case WordClass::Unallocated:
        return "unallocated";
    case WordClass::TranslatorAbort:
        return "translator-abort";
    }
    return "?";
}

namespace {
// What Unicorn 2.0.1's "max" CPU (QEMU 5.0's aarch64_max_initfn) implements: Armv8.5-A with
// FP16 and FHM, SVE (not SVE2), SHA3/SM3/SM4, dot product, RDM, LRCPC2, PAuth, BTI, SSBS,
// RNG, FlagM2, FRINTTS, JSCVT, FCMA, DPB2, SB, SPECRES, LSE, CRC. Not +all: later extensions
// allocate encodings QEMU 5.0 still asserts on (FAMINMAX's famax and FP8's fscale sit in the
// AdvSIMD FP16 three-same group; guest_translate_probe found them), and on this CPU they are
// unallocated anyway.
constexpr std::string_view kUnicornMaxFeatures =
    "+v8.5a,+fullfp16,+fp16fml,+sve,+sha3,+sm4,+aes,+sha2,+dotprod,+rdm,+rcpc-immo,+predres,+sb,"
    "+ssbs,+rand,+flagm,+altnzcv,+fptoint,+jsconv,+complxnum,+ccdp,+crc,+lse,+pauth,+bti,"
    "+specrestrict";

Disassembler unicorn_max_disassembler() {
    auto made = Disassembler::create("generic", kUnicornMaxFeatures);
    KLP_CHECK(made.ok(), "guard disassembler: {}", made.error().message);
    return std::move(*made);
}
} // namespace

InsnClassifier::InsnClassifier()
    : m_disasm(unicorn_max_disassembler()), m_cache(kCacheEntries, 0) {}

bool InsnClassifier::known_translator_abort(InsnWord w) {
    for (const MaskedEncoding& e : kKnownTranslatorAborts) {
        if ((w.raw & e.mask) == e.bits) {
            return true;
        }
    }
    return false;
}

WordClass InsnClassifier::classify(InsnWord w) {
    uint64_t& slot = m_cache[(w.raw ^ (w.raw >> 12) ^ (w.raw >> 22)) & (kCacheEntries - 1)];
    if ((slot & 0xff) != 0 && uint32_t(slot >> 32) == w.raw) {
        return WordClass((slot & 0xff) - 1);
    }
    WordClass c = WordClass::Runnable;
    if (!m_disasm.decodes(w)) {
        c = WordClass::Unallocated;
    } else if (known_translator_abort(w)) {
        c = WordClass::TranslatorAbort;
    }
    slot = (uint64_t(w.raw) << 32) | (uint64_t(c) + 1);
    return c;
}

} // namespace klpemu::emu
