// The symbol table of everything loaded into the guest. It resolves names across objects (kernel
// exports used by modules) and symbolizes any guest address as `func+0x1c`, or as
// `object:section+0x40` where no symbol covers it, so transcripts never show raw addresses.
#pragma once

#include "emu/guest_addr.h"
#include "emu/image.h"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace klpemu {

// An address relative to a symbol or section, printed as `name+0x1c` (or `name` at offset 0).
struct Symbolized {
    std::string base; // "func" or "object:section"; empty if nothing covers the address.
    uint64_t offset = 0;
    GuestAddr addr;

    std::string str() const;
};

class SymbolTable {
  public:
    // Adds every symbol and section of `object`. Contract: `object` was placed without overlap
    // with objects already added.
    void add_object(const LoadedObject& object);

    // Removes everything `add_object(object)` added for the object named `name`.
    void remove_object(std::string_view name);

    // Global (exported) symbol by name, or nullopt.
    std::optional<Symbol> lookup(std::string_view name) const;

    // Any symbol of the given object by name (locals included), or nullopt.
    std::optional<Symbol> lookup_in(std::string_view object, std::string_view name) const;

    // Every symbol of the given object with this name (locals included), in the order of the
    // object's symbol table: what livepatch's sympos counts in a module (klp_find_object_symbol).
    std::vector<Symbol> all_named_in(std::string_view object, std::string_view name) const;

    // The function or object symbol containing addr (or the nearest preceding one within its
    // section when it has size 0), else the section; always returns a value.
    Symbolized symbolize(GuestAddr addr) const;

    // The function symbol whose [addr, addr+size) contains `addr`, if any.
    std::optional<Symbol> function_at(GuestAddr addr) const;

    // Every function and object symbol, by address (the gdb stub's symbol file).
    std::vector<Symbol> by_address() const {
        std::vector<Symbol> out;
        out.reserve(m_by_addr.size());
        for (const auto& [addr, s] : m_by_addr) {
            out.push_back(s);
        }
        return out;
    }

  private:
    struct SectionEntry {
        std::string object;
        std::string section;
        GuestRange range;
    };
    std::unordered_map<std::string, Symbol> m_globals;
    std::unordered_map<std::string, std::vector<Symbol>> m_by_object;
    std::map<GuestAddr, Symbol> m_by_addr; // Function/object symbols keyed by start address.
    std::map<GuestAddr, SectionEntry> m_sections;
};

} // namespace klpemu

template <> struct fmt::formatter<klpemu::Symbolized> : fmt::formatter<std::string_view> {
    auto format(const klpemu::Symbolized& s, format_context& ctx) const {
        return fmt::format_to(ctx.out(), "{}", s.str());
    }
};
