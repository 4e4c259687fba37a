// Reads an AArch64 relocatable object the way load_module() takes one apart: section headers,
// names, the single symbol table and every RELA section. llvm/Object's ELFFile does the bounds
// checking; everything it reports becomes "NAME: error: ..." so that a broken .o is bad input,
// not a crash.
#include "emu/elf_object.h"

#include <llvm/BinaryFormat/ELF.h>
#include <llvm/Object/ELF.h>
#include <llvm/Support/Error.h>

#include <cstring>

namespace klpemu {
namespace {

using ElfFile = llvm::object::ELF64LEFile;

Error object_error(std::string_view name, std::string_view what) {
    return make_error("{}: error: {}", name, what);
}

Error object_error(std::string_view name, llvm::Error err) {
    return object_error(name, llvm::toString(std::move(err)));
}

// Checks the identification bytes before llvm reads anything as ELF64LE.
Result<void> check_ident(const ObjectBytes& obj, std::string_view name) {
    const auto& b = obj.bytes;
    if (b.size() < llvm::ELF::EI_NIDENT) {
        return object_error(name, fmt::format("truncated ELF header ({} bytes)", b.size()));
    }
    if (std::memcmp(b.data(), llvm::ELF::ElfMagic, 4) != 0) {
        return object_error(name, "not an ELF file (bad magic)");
    }
    if (b[llvm::ELF::EI_CLASS] != llvm::ELF::ELFCLASS64) {
        return object_error(name, "not a 64-bit ELF file");
    }
    if (b[llvm::ELF::EI_DATA] != llvm::ELF::ELFDATA2LSB) {
        return object_error(name, "not a little-endian ELF file");
    }
    if (b.size() < sizeof(llvm::object::ELF64LE::Ehdr)) {
        return object_error(name, fmt::format("truncated ELF header ({} bytes)", b.size()));
    }
    return {};
}

} // namespace

Result<ElfObject> ElfObject::parse(const ObjectBytes& obj) { return parse(obj, obj.name); }

Result<ElfObject> ElfObject::parse(const ObjectBytes& obj, std::string_view display_name) {
    KLP_TRY(check_ident(obj, display_name));
    llvm::StringRef buffer(reinterpret_cast<const char*>(obj.bytes.data()), obj.bytes.size());
    auto file = ElfFile::create(buffer);
    if (!file) {
        return object_error(display_name, file.takeError());
    }
    const auto& header = file->getHeader();
    if (header.e_machine != llvm::ELF::EM_AARCH64) {
        return object_error(display_name, fmt::format("not an AArch64 object (e_machine {})",
                                                  uint16_t(header.e_machine)));
    }
    if (header.e_type != llvm::ELF::ET_REL) {
        return object_error(display_name, fmt::format("not a relocatable object (e_type {}); the "
                                                  "loader takes .o files like the module loader",
                                                  uint16_t(header.e_type)));
    }

    auto sections = file->sections();
    if (!sections) {
        return object_error(display_name, sections.takeError());
    }
    ElfObject out;
    out.name = std::string(display_name);
    const typename ElfFile::Elf_Shdr* symtab = nullptr;
    for (const auto& shdr : *sections) {
        ElfSection s;
        s.index = uint32_t(out.sections.size());
        auto name = file->getSectionName(shdr);
        if (!name) {
            return object_error(display_name, name.takeError());
        }
        s.name = name->str();
        s.type = shdr.sh_type;
        s.flags = shdr.sh_flags;
        s.alignment = shdr.sh_addralign == 0 ? 1 : uint64_t(shdr.sh_addralign);
        s.size = shdr.sh_size;
        s.link = shdr.sh_link;
        s.info = shdr.sh_info;
        if ((s.alignment & (s.alignment - 1)) != 0) {
            return object_error(display_name, fmt::format("section {} has alignment {} which is not "
                                                      "a power of two",
                                                      s.name, s.alignment));
        }
        if (s.type != elf::kShtNobits && s.index != 0) {
            auto contents = file->getSectionContents(shdr);
            if (!contents) {
                return object_error(display_name, contents.takeError());
            }
            s.bytes.assign(contents->begin(), contents->end());
        }
        if (s.type == elf::kShtSymtab) {
            if (symtab != nullptr) {
                return object_error(display_name, "more than one symbol table");
            }
            symtab = &shdr;
        }
        out.sections.push_back(std::move(s));
    }

    if (symtab != nullptr) {
        auto symbols = file->symbols(symtab);
        if (!symbols) {
            return object_error(display_name, symbols.takeError());
        }
        auto strtab = file->getStringTableForSymtab(*symtab, *sections);
        if (!strtab) {
            return object_error(display_name, strtab.takeError());
        }
        for (const auto& sym : *symbols) {
            ElfSymbol s;
            s.index = uint32_t(out.symbols.size());
            auto name = sym.getName(*strtab);
            if (!name) {
                return object_error(display_name, name.takeError());
            }
            s.name = name->str();
            s.section_index = sym.st_shndx;
            s.value = sym.st_value;
            s.size = sym.st_size;
            s.binding = sym.getBinding();
            s.type = sym.getType();
            if (s.section_index == llvm::ELF::SHN_XINDEX) {
                return object_error(display_name, fmt::format("symbol '{}' uses SHN_XINDEX, which "
                                                          "is not supported",
                                                          s.name));
            }
            const bool in_section = s.section_index != elf::kShnUndef &&
                                    s.section_index < elf::kShnLoreserve;
            if (in_section && s.section_index >= out.sections.size()) {
                return object_error(display_name, fmt::format("symbol '{}' refers to section {} of "
                                                          "{}",
                                                          s.name, s.section_index,
                                                          out.sections.size()));
            }
            if (s.type == elf::kSttSection && in_section) {
                s.name = out.sections[s.section_index].name;
            }
            out.symbols.push_back(std::move(s));
        }
    }

    for (size_t i = 0; i < sections->size(); ++i) {
        const auto& shdr = (*sections)[i];
        if (shdr.sh_type == elf::kShtRel) {
            return object_error(display_name, fmt::format("section {} is SHT_REL; AArch64 objects use "
                                                      "SHT_RELA only",
                                                      out.sections[i].name));
        }
        if (shdr.sh_type != elf::kShtRela) {
            continue;
        }
        if (shdr.sh_info >= out.sections.size()) {
            return object_error(display_name, fmt::format("relocation section {} targets section {} "
                                                      "which does not exist",
                                                      out.sections[i].name, uint32_t(shdr.sh_info)));
        }
        auto relas = file->relas(shdr);
        if (!relas) {
            return object_error(display_name, relas.takeError());
        }
        ElfRelocationSection rs;
        rs.index = uint32_t(i);
        rs.target_section = shdr.sh_info;
        for (const auto& r : *relas) {
            ElfRelocation rel;
            rel.offset = r.r_offset;
            rel.type = r.getType(false);
            rel.symbol = r.getSymbol(false);
            rel.addend = r.r_addend;
            if (rel.symbol >= out.symbols.size() && !(rel.symbol == 0 && out.symbols.empty())) {
                return object_error(display_name, fmt::format("relocation in {} at offset {:#x} refers "
                                                          "to symbol {} of {}",
                                                          out.sections[i].name, rel.offset,
                                                          rel.symbol, out.symbols.size()));
            }
            rs.relocations.push_back(rel);
        }
        out.relocation_sections.push_back(std::move(rs));
    }
    return out;
}

const ElfSection* ElfObject::find_section(std::string_view section_name) const {
    for (const auto& s : sections) {
        if (s.name == section_name) {
            return &s;
        }
    }
    return nullptr;
}

} // namespace klpemu
