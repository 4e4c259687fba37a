// See gdb_symbol_file.h. Layout (all little endian, ELF64):
//
//   Ehdr | .strtab bytes | .shstrtab bytes | Elf64_Sym[] | Shdr[]
//
//   sections: 0 null, 1..R one SHT_NOBITS per guest memory region holding symbols (flags
//   ALLOC|EXEC, sh_addr = region base), R+1 .symtab, R+2 .strtab, R+3 .shstrtab
#include "tools/gdb_symbol_file.h"

#include "emu/machine.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>

namespace klpemu::tools {

namespace {

template <typename T> void append(std::string& out, const T& v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

uint32_t add_string(std::string& table, const std::string& s) {
    const auto at = uint32_t(table.size());
    table += s;
    table += '\0';
    return at;
}

} // namespace

Result<void> write_gdb_symbol_file(const emu::Machine& machine, const std::filesystem::path& path) {
    const std::vector<Symbol> symbols = machine.symbols().by_address();
    // The regions that hold symbols, in address order, with their section index.
    std::map<uint64_t, const emu::MemoryRegion*> regions;
    for (const Symbol& s : symbols) {
        if (const emu::MemoryRegion* r = machine.memory().region_at(s.addr)) {
            regions.emplace(r->range.begin.value, r);
        }
    }
    std::map<uint64_t, uint16_t> index_of;
    std::string shstrtab(1, '\0');
    std::vector<Elf64_Shdr> shdrs(1);
    for (const auto& [base, r] : regions) {
        Elf64_Shdr sh{};
        sh.sh_name = add_string(shstrtab, ".klpemu." + r->name);
        sh.sh_type = SHT_NOBITS;
        sh.sh_flags = SHF_ALLOC | SHF_EXECINSTR;
        sh.sh_addr = base;
        sh.sh_size = r->range.size();
        sh.sh_addralign = 4;
        index_of[base] = uint16_t(shdrs.size());
        shdrs.push_back(sh);
    }
    std::string strtab(1, '\0');
    std::vector<Elf64_Sym> syms(1);
    for (const Symbol& s : symbols) {
        const emu::MemoryRegion* r = machine.memory().region_at(s.addr);
        if (r == nullptr || s.kind == SymbolKind::Section || s.name.empty()) {
            continue;
        }
        Elf64_Sym sym{};
        sym.st_name = add_string(strtab, s.name);
        sym.st_info = ELF64_ST_INFO(s.global ? STB_GLOBAL : STB_LOCAL,
                                    s.kind == SymbolKind::Function ? STT_FUNC : STT_OBJECT);
        sym.st_shndx = index_of[r->range.begin.value];
        sym.st_value = s.addr.value;
        sym.st_size = s.size;
        syms.push_back(sym);
    }
    // ELF wants locals first; sh_info is the first global's index.
    std::stable_partition(syms.begin() + 1, syms.end(),
                          [](const Elf64_Sym& s) { return ELF64_ST_BIND(s.st_info) == STB_LOCAL; });
    uint32_t first_global = 1;
    while (first_global < syms.size() && ELF64_ST_BIND(syms[first_global].st_info) == STB_LOCAL) {
        ++first_global;
    }
    const auto symtab_index = uint16_t(shdrs.size());
    const uint32_t symtab_name = add_string(shstrtab, ".symtab");
    const uint32_t strtab_name = add_string(shstrtab, ".strtab");
    const uint32_t shstrtab_name = add_string(shstrtab, ".shstrtab");

    const uint64_t strtab_off = sizeof(Elf64_Ehdr);
    const uint64_t shstrtab_off = strtab_off + strtab.size();
    const uint64_t symtab_off = (shstrtab_off + shstrtab.size() + 7) & ~7ULL;
    const uint64_t shdr_off = symtab_off + syms.size() * sizeof(Elf64_Sym);

    Elf64_Shdr symtab{};
    symtab.sh_name = symtab_name;
    symtab.sh_type = SHT_SYMTAB;
    symtab.sh_offset = symtab_off;
    symtab.sh_size = syms.size() * sizeof(Elf64_Sym);
    symtab.sh_link = symtab_index + 1u;
    symtab.sh_info = first_global;
    symtab.sh_addralign = 8;
    symtab.sh_entsize = sizeof(Elf64_Sym);
    shdrs.push_back(symtab);
    Elf64_Shdr str{};
    str.sh_name = strtab_name;
    str.sh_type = SHT_STRTAB;
    str.sh_offset = strtab_off;
    str.sh_size = strtab.size();
    str.sh_addralign = 1;
    shdrs.push_back(str);
    Elf64_Shdr shstr{};
    shstr.sh_name = shstrtab_name;
    shstr.sh_type = SHT_STRTAB;
    shstr.sh_offset = shstrtab_off;
    shstr.sh_size = shstrtab.size();
    shstr.sh_addralign = 1;
    shdrs.push_back(shstr);

    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_AARCH64;
    eh.e_version = EV_CURRENT;
    eh.e_shoff = shdr_off;
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = uint16_t(shdrs.size());
    eh.e_shstrndx = uint16_t(shdrs.size() - 1);

    std::string out;
    append(out, eh);
    out += strtab;
    out += shstrtab;
    out.resize(symtab_off, '\0');
    for (const auto& s : syms) {
        append(out, s);
    }
    for (const auto& sh : shdrs) {
        append(out, sh);
    }
    std::ofstream file(path, std::ios::binary);
    if (!file || !file.write(out.data(), std::streamsize(out.size()))) {
        return make_error("cannot write the symbol file {}", path.string());
    }
    return {};
}

} // namespace klpemu::tools
