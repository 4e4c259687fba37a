// The instruction-word classifier behind the text guard (emu/text_guard.h). Unicorn 2.0.1's QEMU
// 5.0 translator does not always answer an unallocated A64 encoding with an undefined-instruction
// exception: some decoders (AdvSIMD FP16 two-register misc is the one the fuzzer hit, issue 18)
// print a line and abort the host process. The architecture's answer for such a word is UDEF at
// its PC, which is what the guest must see. This classifier names the words that must never be
// handed to Unicorn's translator: every word LLVM's AArch64 disassembler rejects for the
// features Unicorn's "max" CPU has (so unallocated on the emulated CPU), plus the words a probe
// of the real translator found to abort although LLVM decodes them (kKnownTranslatorAborts).
#pragma once

#include "emu/disassembler.h"
#include "emu/insn_word.h"

#include <cstdint>
#include <vector>

namespace klpemu::emu {

enum class WordClass : uint8_t {
    Runnable,        // LLVM decodes it and no known translator abort matches: Unicorn may run it.
    Unallocated,     // Unallocated on the emulated CPU: UDEF, never translated.
    TranslatorAbort, // Allocated (LLVM decodes it) but Unicorn 2.0.1's translator aborts on it.
};

std::string_view word_class_name(WordClass c);

class InsnClassifier {
  public:
    InsnClassifier();

    // The class of `w`; cached (a direct-mapped table), so classifying a page is cheap after
    // the first time and the same data words seen again cost one compare.
    WordClass classify(InsnWord w);
    // Whether `w` must trap before Unicorn translates it.
    bool traps(InsnWord w) { return classify(w) != WordClass::Runnable; }

    // The words LLVM decodes but the translator aborts on (table lookup only, no LLVM).
    static bool known_translator_abort(InsnWord w);

  private:
    static constexpr size_t kCacheEntries = 1 << 12;
    Disassembler m_disasm;
    // Entry: word in the high 32 bits, class + 1 in the low bits (0 = empty).
    std::vector<uint64_t> m_cache;
};

} // namespace klpemu::emu
