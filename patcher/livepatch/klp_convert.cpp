// See klp_convert.h. The object is rewritten from its raw bytes: section headers and contents
// are copied in index order (new file offsets), the changed RELA contents and `.shstrtab` are
// replaced, the new `.klp.rela.*` sections are appended after the last index, and the section
// header table goes at the end. ET_REL objects have no program headers, so nothing else refers
// to file offsets.
#include "patcher/livepatch/klp_convert.h"

#include "emu/elf_object.h"

#include <fmt/format.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace klpemu::patcher::livepatch {

namespace {

constexpr size_t kEhdrSize = 64, kShdrSize = 64, kSymSize = 24, kRelaSize = 24;
constexpr std::string_view kSymPrefix = ".klp.sym.";
constexpr uint32_t kShtSymtab = 2, kShtRela = 4, kShtNobits = 8;

template <typename T> T get(const std::vector<uint8_t>& b, size_t at) {
    T v{};
    std::memcpy(&v, b.data() + at, sizeof(T));
    return v;
}
template <typename T> void put(std::vector<uint8_t>& b, size_t at, T v) {
    std::memcpy(b.data() + at, &v, sizeof(T));
}

struct Shdr {
    uint32_t name = 0, type = 0;
    uint64_t flags = 0, addr = 0, offset = 0, size = 0;
    uint32_t link = 0, info = 0;
    uint64_t align = 0, entsize = 0;
    std::vector<uint8_t> data; // Contents (empty for NOBITS).
};

std::string c_string(const std::vector<uint8_t>& table, uint64_t at) {
    std::string out;
    for (; at < table.size() && table[at] != 0; ++at) {
        out.push_back(char(table[at]));
    }
    return out;
}

} // namespace

Result<ObjectBytes> klp_convert(const ObjectBytes& object) {
    const std::vector<uint8_t>& in = object.bytes;
    auto bad = [&](std::string_view why) {
        return make_error("{}: error: klp-convert: {}", object.name, why);
    };
    if (in.size() < kEhdrSize ||
        std::memcmp(in.data(),
                    "\x7f"
                    "ELF",
                    4) != 0 ||
        in[4] != 2 || in[5] != 1) {
        return bad("not an ELF64 little-endian object");
    }
    const uint64_t shoff = get<uint64_t>(in, 40);
    const uint16_t shentsize = get<uint16_t>(in, 58);
    const uint16_t shnum = get<uint16_t>(in, 60);
    const uint16_t shstrndx = get<uint16_t>(in, 62);
    if (shentsize != kShdrSize || shnum == 0 || shstrndx >= shnum || shoff > in.size() ||
        (in.size() - shoff) / kShdrSize < shnum) {
        return bad("bad section header table");
    }
    std::vector<Shdr> sh(shnum);
    for (size_t i = 0; i < shnum; ++i) {
        const size_t at = shoff + i * kShdrSize;
        Shdr& s = sh[i];
        s.name = get<uint32_t>(in, at);
        s.type = get<uint32_t>(in, at + 4);
        s.flags = get<uint64_t>(in, at + 8);
        s.addr = get<uint64_t>(in, at + 16);
        s.offset = get<uint64_t>(in, at + 24);
        s.size = get<uint64_t>(in, at + 32);
        s.link = get<uint32_t>(in, at + 40);
        s.info = get<uint32_t>(in, at + 44);
        s.align = get<uint64_t>(in, at + 48);
        s.entsize = get<uint64_t>(in, at + 56);
        if (i != 0 && s.type != kShtNobits) {
            if (s.offset > in.size() || in.size() - s.offset < s.size) {
                return bad(fmt::format("section {} lies outside the file", i));
            }
            s.data.assign(in.begin() + int64_t(s.offset), in.begin() + int64_t(s.offset + s.size));
        }
    }

    // The symbol table and the `.klp.sym.*` symbols it leaves undefined, with their objname.
    size_t symtab = 0;
    for (size_t i = 1; i < shnum; ++i) {
        if (sh[i].type == kShtSymtab) {
            symtab = i;
        }
    }
    if (symtab == 0) {
        return object; // Nothing refers to any symbol.
    }
    if (sh[symtab].link >= shnum) {
        return bad("the symbol table's string table does not exist");
    }
    const std::vector<uint8_t>& strtab = sh[sh[symtab].link].data;
    std::map<uint32_t, std::string> klp_objname; // Symbol index -> objname.
    for (size_t i = 1; i < sh[symtab].data.size() / kSymSize; ++i) {
        const size_t at = i * kSymSize;
        const std::string name = c_string(strtab, get<uint32_t>(sh[symtab].data, at));
        if (!name.starts_with(kSymPrefix) ||
            get<uint16_t>(sh[symtab].data, at + 6) != elf::kShnUndef) {
            continue;
        }
        const size_t dot = name.find('.', kSymPrefix.size());
        if (dot == std::string::npos || dot == kSymPrefix.size()) {
            return bad(fmt::format("symbol {} names no object (.klp.sym.<objname>.<symname>,"
                                   "<sympos>)",
                                   name));
        }
        klp_objname[uint32_t(i)] = name.substr(kSymPrefix.size(), dot - kSymPrefix.size());
        put<uint16_t>(sh[symtab].data, at + 6, elf::kShnLivepatch);
    }
    if (klp_objname.empty()) {
        return object;
    }

    // Split every RELA section of this symbol table: klp entries go to .klp.rela.<obj>.<sec>.
    std::vector<Shdr> added;
    std::vector<std::string> added_names;
    for (size_t i = 1; i < shnum; ++i) {
        Shdr& rela = sh[i];
        if (rela.type != kShtRela || rela.link != symtab || rela.info >= shnum) {
            continue;
        }
        std::vector<uint8_t> kept;
        std::map<std::string, size_t> by_obj; // objname -> index into `added`
        for (size_t at = 0; at + kRelaSize <= rela.data.size(); at += kRelaSize) {
            const uint32_t sym = uint32_t(get<uint64_t>(rela.data, at + 8) >> 32);
            const auto it = klp_objname.find(sym);
            std::vector<uint8_t>* dst = &kept;
            if (it != klp_objname.end()) {
                auto [slot, fresh] = by_obj.try_emplace(it->second, added.size());
                if (fresh) {
                    Shdr s;
                    s.type = kShtRela;
                    s.flags = elf::kShfAlloc | elf::kShfInfoLink | elf::kShfRelaLivepatch;
                    s.link = uint32_t(symtab);
                    s.info = rela.info;
                    s.align = 8;
                    s.entsize = kRelaSize;
                    added.push_back(std::move(s));
                    added_names.push_back(
                        fmt::format(".klp.rela.{}.{}", it->second,
                                    c_string(sh[shstrndx].data, sh[rela.info].name)));
                }
                dst = &added[slot->second].data;
            }
            dst->insert(dst->end(), rela.data.begin() + int64_t(at),
                        rela.data.begin() + int64_t(at + kRelaSize));
        }
        rela.data = std::move(kept);
    }
    for (size_t k = 0; k < added.size(); ++k) {
        added[k].name = uint32_t(sh[shstrndx].data.size());
        const std::string& n = added_names[k];
        sh[shstrndx].data.insert(sh[shstrndx].data.end(), n.begin(), n.end());
        sh[shstrndx].data.push_back(0);
        sh.push_back(std::move(added[k]));
    }

    // Lay the file out again.
    std::vector<uint8_t> out(in.begin(), in.begin() + kEhdrSize);
    for (size_t i = 1; i < sh.size(); ++i) {
        Shdr& s = sh[i];
        const uint64_t align = s.align > 1 ? s.align : 1;
        out.resize((out.size() + align - 1) / align * align, 0);
        s.offset = out.size();
        if (s.type != kShtNobits) {
            s.size = s.data.size();
            out.insert(out.end(), s.data.begin(), s.data.end());
        }
    }
    out.resize((out.size() + 7) / 8 * 8, 0);
    put<uint64_t>(out, 40, out.size());
    put<uint16_t>(out, 60, uint16_t(sh.size()));
    for (const Shdr& s : sh) {
        std::vector<uint8_t> h(kShdrSize, 0);
        put(h, 0, s.name);
        put(h, 4, s.type);
        put(h, 8, s.flags);
        put(h, 16, s.addr);
        put(h, 24, s.offset);
        put(h, 32, s.size);
        put(h, 40, s.link);
        put(h, 44, s.info);
        put(h, 48, s.align);
        put(h, 56, s.entsize);
        out.insert(out.end(), h.begin(), h.end());
    }
    return ObjectBytes{object.name, std::move(out)};
}

} // namespace klpemu::patcher::livepatch
