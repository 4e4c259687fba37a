// CFI parsing: LLVM's DWARFDebugFrame decodes the CIEs and FDEs of a relocated .eh_frame or
// .debug_frame and runs each FDE's CFA program (dwarf::UnwindTable); this file keeps only what
// an AArch64 frame unwinder needs from each row: CFA = sp|x29 + offset, and the x29 and x30
// rules. AArch64 DWARF register numbers: x29 = 29, x30 = 30 (the return address column), sp = 31.
#include "emu/cfi_table.h"

#include <llvm/DebugInfo/DWARF/DWARFDataExtractor.h>
#include <llvm/DebugInfo/DWARF/DWARFDebugFrame.h>
#include <llvm/Support/Casting.h>
#include <llvm/Support/Error.h>
#include <llvm/TargetParser/Triple.h>

#include <algorithm>

namespace klpemu {

namespace {

constexpr uint32_t kDwarfFp = 29;
constexpr uint32_t kDwarfLr = 30;
constexpr uint32_t kDwarfSp = 31;

CfiRule convert_rule(const llvm::dwarf::UnwindRow& row, uint32_t reg) {
    std::optional<llvm::dwarf::UnwindLocation> loc =
        row.getRegisterLocations().getRegisterLocation(reg);
    if (!loc) {
        return {CfiRuleKind::SameValue, 0};
    }
    switch (loc->getLocation()) {
    case llvm::dwarf::UnwindLocation::Unspecified:
    case llvm::dwarf::UnwindLocation::Same:
        return {CfiRuleKind::SameValue, 0};
    case llvm::dwarf::UnwindLocation::Undefined:
        return {CfiRuleKind::Undefined, 0};
    case llvm::dwarf::UnwindLocation::CFAPlusOffset:
        // Only "saved at [CFA + off]" (DW_CFA_offset) is a save slot; "is CFA + off" is a value.
        if (*loc == llvm::dwarf::UnwindLocation::createAtCFAPlusOffset(loc->getOffset())) {
            return {CfiRuleKind::AtCfa, loc->getOffset()};
        }
        return {CfiRuleKind::Other, 0};
    default:
        return {CfiRuleKind::Other, 0};
    }
}

void convert_cfa(const llvm::dwarf::UnwindRow& row, CfiRow& out) {
    const llvm::dwarf::UnwindLocation& cfa = row.getCFAValue();
    out.cfa_base = CfaBase::Other;
    if (cfa.getLocation() != llvm::dwarf::UnwindLocation::RegPlusOffset) {
        return;
    }
    if (!(cfa == llvm::dwarf::UnwindLocation::createIsRegisterPlusOffset(cfa.getRegister(),
                                                                         cfa.getOffset()))) {
        return; // Dereferenced or in another address space.
    }
    out.cfa_offset = cfa.getOffset();
    if (cfa.getRegister() == kDwarfSp) {
        out.cfa_base = CfaBase::Sp;
    } else if (cfa.getRegister() == kDwarfFp) {
        out.cfa_base = CfaBase::Fp;
    }
}

} // namespace

Result<void> CfiTable::add_section(const CfiSection& section) {
    const bool is_eh = section.name == ".eh_frame";
    llvm::DWARFDataExtractor data(llvm::ArrayRef<uint8_t>(section.bytes), /*IsLittleEndian=*/true,
                                  /*AddressSize=*/8);
    llvm::DWARFDebugFrame frame(llvm::Triple::aarch64, is_eh, section.addr.value);
    if (llvm::Error err = frame.parse(data)) {
        return make_error("{}: error: cannot parse CFI: {}", section.name,
                          llvm::toString(std::move(err)));
    }
    std::vector<CfiRow> rows;
    for (const llvm::dwarf::FrameEntry& entry : frame.entries()) {
        const auto* fde = llvm::dyn_cast<llvm::dwarf::FDE>(&entry);
        if (fde == nullptr) {
            continue;
        }
        llvm::Expected<llvm::dwarf::UnwindTable> table = llvm::dwarf::UnwindTable::create(fde);
        if (!table) {
            return make_error("{}: error: bad CFI program in FDE at {:#x}: {}", section.name,
                              fde->getOffset(), llvm::toString(table.takeError()));
        }
        const uint64_t fde_end = fde->getInitialLocation() + fde->getAddressRange();
        for (size_t i = 0; i < table->size(); ++i) {
            const llvm::dwarf::UnwindRow& row = (*table)[i];
            if (!row.hasAddress()) {
                continue;
            }
            const uint64_t end = i + 1 < table->size() && (*table)[i + 1].hasAddress()
                                     ? (*table)[i + 1].getAddress()
                                     : fde_end;
            if (end <= row.getAddress()) {
                continue;
            }
            CfiRow out;
            out.pcs = GuestRange{GuestAddr(row.getAddress()), GuestAddr(end)};
            convert_cfa(row, out);
            out.fp = convert_rule(row, kDwarfFp);
            out.ra = convert_rule(row, kDwarfLr);
            rows.push_back(out);
        }
    }
    add_rows(rows);
    return {};
}

void CfiTable::add_rows(std::span<const CfiRow> rows) {
    m_rows.insert(m_rows.end(), rows.begin(), rows.end());
    sort();
}

void CfiTable::remove_range(GuestRange range) {
    std::erase_if(m_rows, [&](const CfiRow& r) { return r.pcs.overlaps(range); });
}

void CfiTable::sort() {
    std::sort(m_rows.begin(), m_rows.end(),
              [](const CfiRow& a, const CfiRow& b) { return a.pcs.begin < b.pcs.begin; });
}

const CfiRow* CfiTable::find(GuestAddr pc) const {
    auto it = std::upper_bound(m_rows.begin(), m_rows.end(), pc,
                               [](GuestAddr a, const CfiRow& r) { return a < r.pcs.begin; });
    if (it == m_rows.begin()) {
        return nullptr;
    }
    --it;
    return it->pcs.contains(pc) ? &*it : nullptr;
}

} // namespace klpemu
