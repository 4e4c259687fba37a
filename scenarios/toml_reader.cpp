// Typed, located access to a toml++ document (see toml_reader.h).
#include "scenarios/toml_reader.h"

#include "scenarios/action_table.h"
#include "scenarios/guest_value.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::scenario {

SourceLoc loc_of(const toml::source_region& region, const std::string& file) {
    return SourceLoc{file, static_cast<int>(region.begin.line),
                     static_cast<int>(region.begin.column)};
}

std::string_view toml_type_name(const toml::node& node) {
    switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: return "nothing";
    }
    return "?";
}

TableReader::TableReader(const toml::table& table, std::string file, std::string context)
    : m_table(table), m_file(std::move(file)), m_context(std::move(context)) {}

SourceLoc TableReader::loc() const { return scenario::loc_of(m_table.source(), m_file); }

const toml::node* TableReader::node(std::string_view key) const { return m_table.get(key); }

bool TableReader::has(std::string_view key) const { return node(key) != nullptr; }

SourceLoc TableReader::loc_of(std::string_view key) const {
    if (const auto* n = node(key)) {
        return scenario::loc_of(n->source(), m_file);
    }
    return loc();
}

SourceLoc TableReader::key_loc(std::string_view key) const {
    for (auto&& [k, v] : m_table) {
        if (k.str() == key) {
            return scenario::loc_of(k.source(), m_file);
        }
    }
    return loc();
}

Error TableReader::type_error(std::string_view key, std::string_view expected) const {
    return located_error(loc_of(key), fmt::format("{} {}: expected {}, got {}", m_context, key,
                                                  expected, toml_type_name(*node(key))));
}

Result<std::optional<std::string>> TableReader::string(std::string_view key) {
    const auto* n = node(key);
    if (!n) {
        return std::optional<std::string>{};
    }
    if (const auto* s = n->as_string()) {
        return std::optional<std::string>{s->get()};
    }
    return type_error(key, "a string");
}

Result<std::string> TableReader::required_string(std::string_view key) {
    auto s = string(key);
    if (!s) {
        return s.error();
    }
    if (!s->has_value()) {
        return located_error(loc(), fmt::format("{}: missing required key '{}'", m_context, key));
    }
    if ((*s)->empty()) {
        return located_error(loc_of(key), fmt::format("{} {}: must not be empty", m_context, key));
    }
    return std::move(**s);
}

Result<std::optional<int64_t>> TableReader::integer(std::string_view key) {
    const auto* n = node(key);
    if (!n) {
        return std::optional<int64_t>{};
    }
    if (const auto* i = n->as_integer()) {
        return std::optional<int64_t>{i->get()};
    }
    return type_error(key, "an integer");
}

Result<std::optional<uint64_t>> TableReader::guest_value(std::string_view key) {
    const auto* n = node(key);
    if (!n) {
        return std::optional<uint64_t>{};
    }
    if (const auto* i = n->as_integer()) {
        return std::optional<uint64_t>{static_cast<uint64_t>(i->get())};
    }
    if (const auto* s = n->as_string()) {
        if (auto v = parse_guest_value(s->get())) {
            return std::optional<uint64_t>{*v};
        }
        return located_error(loc_of(key), fmt::format("{} {}: expected a number, got \"{}\"",
                                                      m_context, key, s->get()));
    }
    return type_error(key, "an integer or a numeric string");
}

Result<std::optional<uint64_t>> TableReader::unsigned_value(std::string_view key) {
    const auto* n = node(key);
    if (n && n->is_integer() && n->as_integer()->get() < 0) {
        return located_error(loc_of(key), fmt::format("{} {}: expected a non-negative integer",
                                                      m_context, key));
    }
    return guest_value(key);
}

Result<std::optional<bool>> TableReader::boolean(std::string_view key) {
    const auto* n = node(key);
    if (!n) {
        return std::optional<bool>{};
    }
    if (const auto* b = n->as_boolean()) {
        return std::optional<bool>{b->get()};
    }
    return type_error(key, "true or false");
}

Result<std::vector<std::string>> TableReader::string_array(std::string_view key) {
    std::vector<std::string> out;
    const auto* n = node(key);
    if (!n) {
        return out;
    }
    const auto* arr = n->as_array();
    if (!arr) {
        return type_error(key, "an array of strings");
    }
    for (const auto& element : *arr) {
        const auto* s = element.as_string();
        if (!s) {
            return located_error(scenario::loc_of(element.source(), m_file),
                                 fmt::format("{} {}: expected an array of strings, got {}",
                                             m_context, key, toml_type_name(element)));
        }
        out.push_back(s->get());
    }
    return out;
}

Result<std::optional<std::vector<GuestArg>>> TableReader::arg_array(std::string_view key) {
    const auto* n = node(key);
    if (!n) {
        return std::optional<std::vector<GuestArg>>{};
    }
    const auto* arr = n->as_array();
    if (!arr) {
        return type_error(key, "an array of numbers or symbol names");
    }
    std::vector<GuestArg> out;
    for (const auto& element : *arr) {
        const auto where = scenario::loc_of(element.source(), m_file);
        if (const auto* i = element.as_integer()) {
            out.emplace_back(static_cast<uint64_t>(i->get()));
            continue;
        }
        if (const auto* s = element.as_string()) {
            auto arg = parse_guest_arg(s->get());
            if (!arg) {
                return located_error(where, fmt::format("{} {}: {}", m_context, key,
                                                        arg.error().message));
            }
            out.push_back(std::move(*arg));
            continue;
        }
        return located_error(where, fmt::format("{} {}: expected a number or a symbol name, got {}",
                                                m_context, key, toml_type_name(element)));
    }
    return std::optional<std::vector<GuestArg>>{std::move(out)};
}

Result<std::optional<std::pair<uint64_t, uint64_t>>> TableReader::window(std::string_view key) {
    using Window = std::optional<std::pair<uint64_t, uint64_t>>;
    const auto* n = node(key);
    if (!n) {
        return Window{};
    }
    const auto* arr = n->as_array();
    if (!arr || arr->size() != 2 || !(*arr)[0].is_integer() || !(*arr)[1].is_integer()) {
        return located_error(loc_of(key), fmt::format("{} {}: expected a window [LOW, HIGH] of "
                                                      "two integers",
                                                      m_context, key));
    }
    const int64_t lo = (*arr)[0].as_integer()->get();
    const int64_t hi = (*arr)[1].as_integer()->get();
    if (lo < 0 || hi < lo) {
        return located_error(loc_of(key), fmt::format("{} {}: expected 0 <= LOW <= HIGH, got "
                                                      "[{}, {}]",
                                                      m_context, key, lo, hi));
    }
    return Window{std::pair{uint64_t(lo), uint64_t(hi)}};
}

Result<std::optional<std::string>> TableReader::one_of(std::string_view key,
                                                       std::span<const std::string_view> known) {
    auto s = string(key);
    if (!s || !s->has_value()) {
        return s;
    }
    if (std::find(known.begin(), known.end(), **s) != known.end()) {
        return s;
    }
    std::string list;
    for (auto k : known) {
        list += list.empty() ? "" : ", ";
        list += k;
    }
    return located_error(loc_of(key), fmt::format("{} {}: unknown value \"{}\"; expected one of: {}",
                                                  m_context, key, **s, list));
}

Result<void> TableReader::reject_unknown_keys(std::span<const std::string_view> allowed) const {
    for (auto&& [k, v] : m_table) {
        if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) {
            continue;
        }
        std::string list;
        for (auto a : allowed) {
            list += list.empty() ? "" : ", ";
            list += a;
        }
        return located_error(scenario::loc_of(k.source(), m_file),
                             fmt::format("unknown key '{}' in {}; expected one of: {}", k.str(),
                                         m_context, list));
    }
    return {};
}

} // namespace klpemu::scenario
