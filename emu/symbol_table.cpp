// The guest's kallsyms: every loaded object's symbols and sections, so that names resolve
// across objects (a module's undefined symbols against kernel exports, as resolve_symbol() does)
// and every address prints as `func+0x1c`. Assembly often omits `.size`; such a function covers
// everything up to the next symbol in its section, which is what kallsyms assumes too.
#include "emu/symbol_table.h"

#include <algorithm>

namespace klpemu {
namespace {

// Whether a symbol takes part in address lookup, and how strongly it claims its address.
int address_rank(const Symbol& s) {
    switch (s.kind) {
    case SymbolKind::Function:
        return s.global ? 6 : 5;
    case SymbolKind::Object:
        return s.global ? 4 : 3;
    case SymbolKind::NoType:
        return s.global ? 2 : 0; // Local untyped symbols are assembly labels inside functions.
    case SymbolKind::Section:
        return 0;
    }
    return 0;
}

} // namespace

std::string Symbolized::str() const {
    if (base.empty()) {
        return fmt::format("{}", addr);
    }
    if (offset == 0) {
        return base;
    }
    return fmt::format("{}+{:#x}", base, offset);
}

void SymbolTable::add_object(const LoadedObject& object) {
    for (const auto& section : object.sections) {
        if (section.range.size() == 0) {
            continue;
        }
        m_sections[section.range.begin] = SectionEntry{object.name, section.name, section.range};
    }
    auto& list = m_by_object[object.name];
    for (const auto& sym : object.symbols) {
        Symbol s = sym;
        if (s.object.empty()) {
            s.object = object.name;
        }
        list.push_back(s);
        if (s.global) {
            m_globals.emplace(s.name, s);
        }
        const int rank = address_rank(s);
        if (rank == 0) {
            continue;
        }
        auto [it, inserted] = m_by_addr.emplace(s.addr, s);
        if (!inserted && address_rank(it->second) < rank) {
            it->second = s;
        }
    }
}

void SymbolTable::remove_object(std::string_view name) {
    std::erase_if(m_globals, [&](const auto& kv) { return kv.second.object == name; });
    std::erase_if(m_by_addr, [&](const auto& kv) { return kv.second.object == name; });
    std::erase_if(m_sections, [&](const auto& kv) { return kv.second.object == name; });
    m_by_object.erase(std::string(name));
}

std::optional<Symbol> SymbolTable::lookup(std::string_view name) const {
    auto it = m_globals.find(std::string(name));
    if (it == m_globals.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::optional<Symbol> SymbolTable::lookup_in(std::string_view object, std::string_view name) const {
    auto it = m_by_object.find(std::string(object));
    if (it == m_by_object.end()) {
        return std::nullopt;
    }
    for (const auto& s : it->second) {
        if (s.name == name) {
            return s;
        }
    }
    return std::nullopt;
}

std::vector<Symbol> SymbolTable::all_named_in(std::string_view object,
                                              std::string_view name) const {
    std::vector<Symbol> out;
    if (auto it = m_by_object.find(std::string(object)); it != m_by_object.end()) {
        for (const auto& s : it->second) {
            if (s.name == name) {
                out.push_back(s);
            }
        }
    }
    return out;
}

Symbolized SymbolTable::symbolize(GuestAddr addr) const {
    const SectionEntry* section = nullptr;
    if (auto it = m_sections.upper_bound(addr); it != m_sections.begin()) {
        --it;
        if (it->second.range.contains(addr)) {
            section = &it->second;
        }
    }
    if (auto it = m_by_addr.upper_bound(addr); it != m_by_addr.begin()) {
        --it;
        const Symbol& s = it->second;
        const bool sized_cover = s.size > 0 && addr.value - s.addr.value < s.size;
        // A size-0 symbol reaches to the next symbol (the one after `it`, which lies beyond
        // addr) but never past the end of its section.
        const bool unsized_cover = s.size == 0 && section != nullptr &&
                                   section->range.contains(s.addr);
        if (sized_cover || unsized_cover) {
            return Symbolized{s.name, uint64_t(addr - s.addr), addr};
        }
    }
    if (section != nullptr) {
        return Symbolized{fmt::format("{}:{}", section->object, section->section),
                          uint64_t(addr - section->range.begin), addr};
    }
    return Symbolized{"", 0, addr};
}

std::optional<Symbol> SymbolTable::function_at(GuestAddr addr) const {
    auto it = m_by_addr.upper_bound(addr);
    if (it == m_by_addr.begin()) {
        return std::nullopt;
    }
    --it;
    const Symbol& s = it->second;
    if (s.kind == SymbolKind::Function && s.size > 0 && addr.value - s.addr.value < s.size) {
        return s;
    }
    return std::nullopt;
}

} // namespace klpemu
