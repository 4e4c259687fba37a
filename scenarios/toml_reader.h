// Typed, located access to a toml++ document. Every accessor checks the TOML type and reports
// mistakes as `file:line:col: error: what was expected`, pointing at the offending key or value
// (toml++ keeps source regions for both). Tables are read through a TableReader that remembers
// which keys were consumed, so that unknown keys are errors rather than silently ignored.
// toml++ types stay inside scenarios/*.cpp: this header is private to the parser.
#pragma once

#include "emu/result.h"
#include "scenarios/scenario_file.h"

#include <toml++/toml.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::scenario {

class TableReader {
  public:
    // `context` names the table in messages, e.g. "[machine]" or "[[task]] #2".
    TableReader(const toml::table& table, std::string file, std::string context);

    SourceLoc loc() const;                       // Where the table starts.
    SourceLoc loc_of(std::string_view key) const; // Where key's value is (or the table).
    SourceLoc key_loc(std::string_view key) const; // Where the key itself is.
    bool has(std::string_view key) const;
    const std::string& context() const { return m_context; }
    const std::string& file() const { return m_file; }

    Result<std::optional<std::string>> string(std::string_view key);
    Result<std::string> required_string(std::string_view key);
    Result<std::optional<int64_t>> integer(std::string_view key);
    // A non-negative 64-bit value: a TOML integer >= 0 or a string such as "0xffff8000...".
    Result<std::optional<uint64_t>> unsigned_value(std::string_view key);
    // An integer or a numeric string; negative integers are stored as two's complement.
    Result<std::optional<uint64_t>> guest_value(std::string_view key);
    Result<std::optional<bool>> boolean(std::string_view key);
    Result<std::vector<std::string>> string_array(std::string_view key);
    // An array of integers, numeric strings or symbol names.
    Result<std::optional<std::vector<GuestArg>>> arg_array(std::string_view key);
    // `[lo, hi]` with lo <= hi.
    Result<std::optional<std::pair<uint64_t, uint64_t>>> window(std::string_view key);
    // A string that must be one of `known` ("expected one of ...").
    Result<std::optional<std::string>> one_of(std::string_view key,
                                              std::span<const std::string_view> known);

    // Error for the first key not in `allowed` (`allowed` lists every key the table may have).
    Result<void> reject_unknown_keys(std::span<const std::string_view> allowed) const;

    const toml::node* node(std::string_view key) const;

  private:
    Error type_error(std::string_view key, std::string_view expected) const;

    const toml::table& m_table;
    std::string m_file;
    std::string m_context;
};

// The location of a toml++ source region in `file`.
SourceLoc loc_of(const toml::source_region& region, const std::string& file);

// "string", "integer", "table"...
std::string_view toml_type_name(const toml::node& node);

} // namespace klpemu::scenario
