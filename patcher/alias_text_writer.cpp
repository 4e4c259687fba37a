// Guest stores through FIX_TEXT_POKE0 as TextPoke writes (see alias_text_writer.h).
#include "patcher/alias_text_writer.h"

#include "emu/check.h"

namespace klpemu::patcher {

AliasTextWriter::AliasTextWriter(TextPoke& poke, const TextTarget& text,
                                 std::function<bool(GuestAddr)> is_literal)
    : m_poke(poke), m_text(text), m_is_literal(std::move(is_literal)) {}

Result<void> AliasTextWriter::alias_store(int cpu, GuestAddr /*pc*/, GuestAddr addr, int size,
                                          uint64_t value) {
    KLP_CHECK(size >= 1 && size <= 8, "a store of {} bytes", size);
    if (size == 8 && addr.is_aligned(8) && m_is_literal(addr)) {
        KLP_TRY_ASSIGN(current, m_text.read_u64(addr));
        return m_poke.write_literal(addr, current, value);
    }
    // Each instruction word the store touches, with the stored bytes merged in.
    const GuestAddr first = addr.align_down(kInsnSize);
    const GuestAddr end = addr + int64_t(size);
    for (GuestAddr word_pc = first; word_pc < end; word_pc += int64_t(kInsnSize)) {
        KLP_TRY_ASSIGN(current, m_text.read_word(word_pc));
        uint32_t merged = current.raw;
        for (int byte = 0; byte < int(kInsnSize); ++byte) {
            const GuestAddr at = word_pc + int64_t(byte);
            if (at < addr || at >= end) {
                continue;
            }
            const uint32_t stored = uint32_t(value >> (8 * (at - addr))) & 0xff;
            merged = (merged & ~(0xffu << (8 * byte))) | (stored << (8 * byte));
        }
        KLP_TRY(m_poke.apply(TextPatch{word_pc, current, InsnWord(merged), PatchPurpose::Other},
                             PokeContext{.writer_cpu = cpu}));
    }
    return {};
}

} // namespace klpemu::patcher
