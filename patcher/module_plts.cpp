// Module PLT entries and their accounting (see module_plts.h).
#include "patcher/module_plts.h"

#include "emu/check.h"
#include "emu/insn_encoding.h"
#include "emu/relocation.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>
#include <tuple>

namespace klpemu::patcher {

PltFormat era_plt_format(emu::KernelEra era) {
    return emu::era_info(era).has(emu::EraFeature::AdrpPlts) ? PltFormat::AdrpAdd
                                                             : PltFormat::MovWide;
}

std::vector<uint8_t> PltEntry::bytes() const {
    std::vector<uint8_t> out(size());
    for (size_t i = 0; i < words().size(); ++i) {
        std::memcpy(out.data() + 4 * i, &insn[i].raw, 4);
    }
    return out;
}

PltEntry PltEntry::from_words(PltFormat format, std::span<const uint32_t> words) {
    PltEntry e;
    e.format = format;
    KLP_CHECK(words.size() == e.words().size(), "a {}-byte PLT entry has {} words, not {}",
              e.size(), e.words().size(), words.size());
    for (size_t i = 0; i < words.size(); ++i) {
        e.insn[i] = InsnWord(words[i]);
    }
    return e;
}

namespace {

// movn x16, #~dst[15:0]; movk x16, #dst[31:16], lsl #16; movk x16, #dst[47:32], lsl #32; br x16
PltEntry move_wide_entry(GuestAddr dst) {
    const uint64_t v = dst.value;
    PltEntry e;
    e.format = PltFormat::MovWide;
    e.insn = {a64::movn(a64::kX16, uint16_t(~v & 0xffff), 0),
              a64::movk(a64::kX16, uint16_t(v >> 16), 16),
              a64::movk(a64::kX16, uint16_t(v >> 32), 32), a64::br(a64::kX16)};
    return e;
}

PltEntry adrp_add_entry(InsnWord adrp, GuestAddr dst) {
    PltEntry e;
    e.format = PltFormat::AdrpAdd;
    e.insn = {adrp,                                                            // adrp x16, dst
              a64::add_imm(a64::kX16, a64::kX16, uint32_t(dst.value & 0xfff)), // add :lo12:dst
              a64::br(a64::kX16), InsnWord{}};                                 // br x16
    return e;
}

} // namespace

Result<PltEntry> make_plt_entry(PltFormat format, GuestAddr pc, GuestAddr dst) {
    if (format == PltFormat::MovWide) {
        if ((dst.value >> 48) != 0xffff) {
            return make_error("PLT entry at {} for {}: a movn/movk entry sets bits 63:48, so it "
                              "only reaches kernel addresses (0xffff...)",
                              pc, dst);
        }
        return move_wide_entry(dst);
    }
    auto adrp = a64::adrp(a64::kX16, pc, dst);
    if (!adrp.ok()) {
        const int64_t pages = int64_t(dst.align_down(4096).value - pc.align_down(4096).value) >> 12;
        return make_error("PLT entry at {} for {}: page delta {:#x} pages is beyond ADRP reach "
                          "(+-4 GiB)",
                          pc, dst, pages);
    }
    return adrp_add_entry(*adrp, dst);
}

InsnWord adrp_as_kernel(GuestAddr pc, GuestAddr dst) {
    // offset = (addr - ALIGN_DOWN(pc, SZ_4K)) >> 12, with the result kept in an s32.
    const uint64_t delta = (dst.value - pc.align_down(4096).value) >> 12;
    const int32_t pages = int32_t(uint32_t(delta));
    constexpr int32_t kAdrpPages = int32_t(1) << 20; // SZ_1M
    if (pages < -kAdrpPages || pages >= kAdrpPages) {
        return kBreakFault;
    }
    const uint32_t imm = uint32_t(pages) & 0x1fffff;
    const uint32_t rd = 16;
    return InsnWord(0x90000000 | (imm & 3) << 29 | (imm >> 2) << 5 | rd); // adrp x16, #pages
}

PltEntry plt_entry_as_kernel(PltFormat format, GuestAddr pc, GuestAddr dst) {
    if (format == PltFormat::MovWide) {
        return move_wide_entry(dst);
    }
    return adrp_add_entry(adrp_as_kernel(pc, dst), dst);
}

std::optional<GuestAddr> plt_entry_target(GuestAddr pc, const PltEntry& entry) {
    if (entry.format == PltFormat::MovWide) {
        const auto imm = [&](size_t i) { return uint64_t((entry.insn[i].raw >> 5) & 0xffff); };
        const uint64_t dst =
            uint64_t(0xffff) << 48 | imm(2) << 32 | imm(1) << 16 | (~imm(0) & 0xffff);
        if (entry != move_wide_entry(GuestAddr(dst))) {
            return std::nullopt;
        }
        return GuestAddr(dst);
    }
    auto page = a64::pc_relative_target(pc, entry.insn[0]);
    if (!page || entry.insn[2] != a64::br(a64::kX16)) {
        return std::nullopt;
    }
    const uint32_t lo12 = (entry.insn[1].raw >> 10) & 0xfff;
    if (entry.insn[1] != a64::add_imm(a64::kX16, a64::kX16, lo12)) {
        return std::nullopt;
    }
    return *page + int64_t(lo12);
}

namespace {

bool is_branch26(uint32_t type) {
    return type == uint32_t(RelocType::Call26) || type == uint32_t(RelocType::Jump26);
}

bool is_adrp(uint32_t type) {
    return type == uint32_t(RelocType::AdrPrelPgHi21) ||
           type == uint32_t(RelocType::AdrPrelPgHi21Nc);
}

// count_plts for one RELA section patching `dst` (section index `dst_index`).
uint64_t count_section(const ElfObject& elf, const ElfRelocationSection& rs, bool erratum,
                       PltFormat format) {
    uint64_t count = 0;
    std::set<std::tuple<uint32_t, uint32_t>> seen; // (type, symbol) with addend 0
    for (const auto& r : rs.relocations) {
        if (is_branch26(r.type)) {
            if (r.symbol < elf.symbols.size() &&
                elf.symbols[r.symbol].section_index == rs.target_section) {
                continue; // Branches within one section never get a PLT.
            }
            if (r.addend != 0 || seen.emplace(r.type, r.symbol).second) {
                ++count;
            }
        } else if (erratum && is_adrp(r.type)) {
            // The least significant zero bit of offset[11:3] sets the alignment that keeps this
            // ADRP off 0xff8/0xffc; beyond a page no alignment can, so a veneer is reserved.
            const uint64_t min_align = uint64_t(2) << std::countr_zero(~(r.offset | 0x7));
            if (min_align > 4096) {
                ++count;
            }
        }
    }
    if (erratum && format == PltFormat::AdrpAdd) {
        // Slack for the slots module_emit_plt_entry skips at page offsets 0xff8/0xffc.
        constexpr uint64_t kEntriesPerPage = 4096 / kPltEntrySize;
        count += (count + kEntriesPerPage - 1) / kEntriesPerPage;
    }
    return count;
}

} // namespace

PltCounts count_plts(const ElfObject& elf, bool erratum_843419, PltFormat format) {
    PltCounts counts;
    for (const auto& rs : elf.relocation_sections) {
        if (rs.target_section >= elf.sections.size()) {
            continue;
        }
        const ElfSection& dst = elf.sections[rs.target_section];
        if (!dst.is_exec()) {
            continue;
        }
        const uint64_t n = count_section(elf, rs, erratum_843419, format);
        if (dst.name.starts_with(".init")) {
            counts.init += n;
        } else {
            counts.core += n;
        }
    }
    return counts;
}

Result<GuestAddr> PltSection::emit(GuestAddr target, const std::string& symbol,
                                   bool undefined_weak) {
    if (!m_slots.empty() && m_slots.back().target == target &&
        m_slots.back().undefined_weak == undefined_weak) {
        PltSlot& slot = m_slots.back(); // plt_entries_equal with plt[j], the last entry made.
        if (symbol != slot.symbol && std::find(slot.shared_with.begin(), slot.shared_with.end(),
                                               symbol) == slot.shared_with.end()) {
            slot.shared_with.push_back(symbol);
        }
        return slot.addr;
    }
    uint64_t index = m_used;
    const uint64_t entry_size = plt_entry_size(m_format);
    if (m_erratum && is_forbidden_offset_for_adrp(m_base + int64_t(index * entry_size))) {
        ++index; // Never place an ADRP at page offset 0xff8/0xffc: skip the slot.
    }
    if (index + 1 > m_max) {
        m_overflowed = true;
        return make_error("{}: entry {} for {} exceeds the {} reserved by count_plts "
                          "(plt_num_entries > plt_max_entries)",
                          m_name, index, symbol, m_max);
    }
    const GuestAddr at = m_base + int64_t(index * entry_size);
    Result<PltEntry> entry = undefined_weak
                                 ? Result<PltEntry>(plt_entry_as_kernel(m_format, at, target))
                                 : make_plt_entry(m_format, at, target);
    if (!entry.ok()) {
        return make_error("{}: {} for {}", m_name, entry.error().message, symbol);
    }
    m_used = index + 1;
    m_slots.push_back(PltSlot{index, at, target, symbol, *entry, undefined_weak, {}});
    return at;
}

} // namespace klpemu::patcher
