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
Disassembler all_features_disassembler() {
    auto made = Disassembler::create("generic", "+all");
    KLP_CHECK(made.ok(), "guard disassembler: {}", made.error().message);
    return std::move(*made);
}
} // namespace

InsnClassifier::InsnClassifier()
    : m_disasm(all_features_disassembler()), m_cache(kCacheEntries, 0) {}

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
