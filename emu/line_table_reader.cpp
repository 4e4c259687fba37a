// See line_table_reader.h. DWARFContext applies the object's relocations in the debug sections
// itself (addresses come back as section index + offset, as for any ET_REL file); the loader's
// placement turns them into guest addresses.
#include "emu/line_table_reader.h"

#include <llvm/DebugInfo/DIContext.h>
#include <llvm/DebugInfo/DWARF/DWARFContext.h>
#include <llvm/DebugInfo/DWARF/DWARFDebugLine.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>

namespace klpemu {

std::vector<LineRow> read_line_rows(const ObjectBytes& obj,
                                    const std::vector<std::optional<GuestAddr>>& placed,
                                    const std::string& object) {
    std::vector<LineRow> rows;
    const llvm::MemoryBufferRef buffer(
        llvm::StringRef(reinterpret_cast<const char*>(obj.bytes.data()), obj.bytes.size()),
        obj.name);
    auto file = llvm::object::ObjectFile::createObjectFile(buffer);
    if (!file) {
        llvm::consumeError(file.takeError());
        return rows;
    }
    auto quiet = [](llvm::Error e) { llvm::consumeError(std::move(e)); };
    const auto context = llvm::DWARFContext::create(
        **file, llvm::DWARFContext::ProcessDebugRelocations::Process, nullptr, "", quiet, quiet);
    for (const auto& unit : context->compile_units()) {
        const llvm::DWARFDebugLine::LineTable* table = context->getLineTableForUnit(unit.get());
        if (table == nullptr) {
            continue;
        }
        const char* dir = unit->getCompilationDir();
        for (const auto& row : table->Rows) {
            const uint64_t section = row.Address.SectionIndex;
            if (row.EndSequence || section >= placed.size() || !placed[section]) {
                continue;
            }
            std::string name;
            if (!table->getFileNameByIndex(
                    row.File, dir != nullptr ? dir : "",
                    llvm::DILineInfoSpecifier::FileLineInfoKind::AbsoluteFilePath, name)) {
                continue;
            }
            rows.push_back(LineRow{*placed[section] + int64_t(row.Address.Address), std::move(name),
                                   row.Line, row.IsStmt != 0, object});
        }
    }
    return rows;
}

} // namespace klpemu
