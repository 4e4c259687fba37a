// Module PLTs, as arch/arm64/kernel/module-plts.c builds them (reference §4). A module placed
// beyond BL reach (±128 MiB) of the code it calls cannot branch there directly: before layout,
// count_plts counts the CALL26/JUMP26 relocations that may need a veneer and
// module_frob_arch_sections sizes `.plt` / `.init.plt` for them; while relocating,
// apply_relocate_add asks module_emit_plt_entry for an entry whenever a branch does not reach.
// Since v5.0 ("arm64/module: switch to ADRP/ADD sequences for PLT entries") each entry is
// `adrp x16, dst; add x16, x16, :lo12:dst; br x16`; up to 4.19 it was `movn x16, #~dst[15:0];
// movk x16, #dst[31:16], lsl #16; movk x16, #dst[47:32], lsl #32; br x16`, 16 bytes, which
// only reaches addresses whose top 16 bits are set (kernel VAs). Either clobbers only x16
// (IP0), which AAPCS64 lets any veneer clobber. Entries are values first (PltEntry) and written
// into the guest once the module's memory is mapped.
#pragma once

#include "emu/elf_object.h"
#include "emu/guest_addr.h"
#include "emu/insn_word.h"
#include "emu/kernel_era.h"
#include "emu/result.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace klpemu::patcher {

// The shape of struct plt_entry, which is an era property (EraFeature::AdrpPlts).
enum class PltFormat : uint8_t {
    MovWide, // <= 4.19: movn/movk/movk/br x16, 16 bytes, absolute (top 16 bits forced to ones).
    AdrpAdd, // v5.0+: adrp/add/br x16, 12 bytes, PC-relative (+-4 GiB).
};

// sizeof(struct plt_entry) in that era.
constexpr uint64_t plt_entry_size(PltFormat format) {
    return format == PltFormat::MovWide ? 16 : 12;
}
inline constexpr uint64_t kPltEntrySize = plt_entry_size(PltFormat::AdrpAdd); // v5.0+

// The struct plt_entry of kernel `era` (EraFeature::AdrpPlts).
PltFormat era_plt_format(emu::KernelEra era);
inline constexpr uint64_t kPltAlignment = 64;   // L1_CACHE_BYTES: .plt and .init.plt
// The ftrace PLT sections (.text.ftrace_trampoline, .init.text.ftrace_trampoline) are aligned
// to __alignof__(struct plt_entry), the alignment of its u32 words.
inline constexpr uint64_t kFtracePltAlignment = 4;
// NR_FTRACE_PLTS without ftrace: one entry. With ftrace, Ftrace::ftrace_plt_targets() decides
// (two on v5.5..v6.1: FTRACE_PLT_IDX and FTRACE_REGS_PLT_IDX).
inline constexpr uint64_t kNrFtracePlts = 1;

// struct plt_entry: three (AdrpAdd) or four (MovWide) instructions, reached by a direct branch
// (so no BTI landing pad).
struct PltEntry {
    PltFormat format = PltFormat::AdrpAdd;
    // AdrpAdd: adrp x16, dst; add x16, x16, #:lo12:dst; br x16 (insn[3] unused, zero).
    // MovWide: movn x16, #~dst[15:0]; movk x16, #dst[31:16], lsl #16;
    //          movk x16, #dst[47:32], lsl #32; br x16.
    std::array<InsnWord, 4> insn{};

    uint64_t size() const { return plt_entry_size(format); }
    // The entry's instructions, size() / 4 of them.
    std::span<const InsnWord> words() const { return {insn.data(), size_t(size() / 4)}; }
    // The entry as guest memory holds it (size() bytes, little endian).
    std::vector<uint8_t> bytes() const;
    // Reads an entry of `format` from its words as guest memory holds them (objdump, checks).
    static PltEntry from_words(PltFormat format, std::span<const uint32_t> words);
    constexpr bool operator==(const PltEntry&) const = default;
};

// The entry of `format` placed at `pc` that forwards to `dst`. Errors: AdrpAdd with a page
// delta beyond ADRP's +-4 GiB; MovWide with a `dst` whose bits 63:48 are not all ones (movn
// sets them). klpemu refuses to build an entry that cannot reach a real target.
Result<PltEntry> make_plt_entry(PltFormat format, GuestAddr pc, GuestAddr dst);

// AARCH64_BREAK_FAULT: what the kernel's instruction generators return when they cannot encode.
inline constexpr InsnWord kBreakFault{0xd4202000}; // brk #0x100

// aarch64_insn_gen_adr(pc, dst, x16, ADRP) as mainline writes it: the page delta is computed in
// 64 bits, shifted right by 12 as an unsigned long and stored in an `s32`, so only its low 32
// bits survive; a truncated delta outside [-2^20, 2^20) pages gives kBreakFault. For any `dst`
// within ±4 GiB this is the ordinary ADRP.
InsnWord adrp_as_kernel(GuestAddr pc, GuestAddr dst);

// get_plt_entry exactly as the kernel builds it, even for a `dst` the entry cannot reach (an
// undefined weak symbol resolved to 0). AdrpAdd: adrp_as_kernel, add #(dst % 4096), br x16.
// MovWide: the three move-wide immediates of `dst` whatever its top bits, so 0 becomes
// 0xffff000000000000.
PltEntry plt_entry_as_kernel(PltFormat format, GuestAddr pc, GuestAddr dst);

// The destination a PLT entry at `pc` forwards to, if its words are one (objdump, checks).
std::optional<GuestAddr> plt_entry_target(GuestAddr pc, const PltEntry& entry);

// is_forbidden_offset_for_adrp: an ADRP at page offset 0xff8 or 0xffc trips erratum 843419.
constexpr bool is_forbidden_offset_for_adrp(GuestAddr adrp_pc) {
    return (adrp_pc.value & 0xfff) >= 0xff8;
}

// What count_plts found for one object, per module memory.
struct PltCounts {
    uint64_t core = 0; // Branches from core text (.text, ...) that may need `.plt`.
    uint64_t init = 0; // Branches from `.init*` text that may need `.init.plt`.
};

// count_plts over every RELA section that patches executable code: CALL26/JUMP26 whose symbol
// is not defined in the patched section itself; a repeat of (type, symbol, addend 0) in the same
// RELA section is counted once. With `erratum_843419`, ADRPs that may land at a forbidden offset
// add a veneer slot each (module_emit_veneer_for_adrp, v4.16+), and, where the entries hold an
// ADRP themselves (AdrpAdd), each section's count gets the kernel's slack for skipped slots:
// n += DIV_ROUND_UP(n, SZ_4K / sizeof(struct plt_entry)).
PltCounts count_plts(const ElfObject& elf, bool erratum_843419,
                     PltFormat format = PltFormat::AdrpAdd);

// Size of a `.plt` section holding `entries` entries: (n + 1) x sizeof(struct plt_entry), as the
// kernel sizes it.
constexpr uint64_t plt_section_size(uint64_t entries, PltFormat format = PltFormat::AdrpAdd) {
    return (entries + 1) * plt_entry_size(format);
}

// One emitted entry, for transcripts and objdump: `plt[3] -> kernel_func`.
struct PltSlot {
    uint64_t index = 0;
    GuestAddr addr;
    GuestAddr target;
    std::string symbol;
    PltEntry entry;
    bool undefined_weak = false;          // `symbol` is undefined and weak: `target` is 0 + addend.
    std::vector<std::string> shared_with; // Other symbols whose branches reuse this entry.
};

// One `.plt` or `.init.plt` of one module (struct mod_plt_sec).
class PltSection {
  public:
    PltSection() = default;
    // `base` is the section's address; `max_entries` is plt_max_entries. Only AdrpAdd entries
    // skip slots for erratum 843419 (a MovWide entry holds no ADRP).
    PltSection(std::string name, GuestAddr base, uint64_t max_entries, bool erratum_843419,
               PltFormat format = PltFormat::AdrpAdd)
        : m_name(std::move(name)), m_base(base), m_max(max_entries),
          m_erratum(erratum_843419 && format == PltFormat::AdrpAdd), m_format(format) {}

    // module_emit_plt_entry: the address of an entry forwarding to `target`, or an error naming
    // the overflow (plt_num_entries > plt_max_entries). Only the previous entry is reused (the
    // kernel sorts the branch relocations, so a repeat of a target is always the last one made).
    // With `undefined_weak` the entry is built as the kernel builds it (plt_entry_as_kernel),
    // whatever `target` is; otherwise a `target` beyond ADRP reach is an error.
    Result<GuestAddr> emit(GuestAddr target, const std::string& symbol,
                           bool undefined_weak = false);

    const std::string& name() const { return m_name; }
    GuestAddr base() const { return m_base; }
    PltFormat format() const { return m_format; }
    uint64_t max_entries() const { return m_max; }
    // plt_num_entries: slots used, erratum-skipped ones included.
    uint64_t used() const { return m_used; }
    const std::vector<PltSlot>& slots() const { return m_slots; }
    // True once emit() failed because the reservation was exhausted.
    bool overflowed() const { return m_overflowed; }

  private:
    std::string m_name;
    GuestAddr m_base;
    uint64_t m_max = 0;
    bool m_erratum = false;
    PltFormat m_format = PltFormat::AdrpAdd;
    bool m_overflowed = false;
    uint64_t m_used = 0;
    std::vector<PltSlot> m_slots;
};

} // namespace klpemu::patcher
