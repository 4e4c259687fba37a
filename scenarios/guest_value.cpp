// Formatting and parsing of guest integers (see guest_value.h for the rule).
#include "scenarios/guest_value.h"

#include <fmt/format.h>

namespace klpemu::scenario {

std::string format_guest_value(uint64_t value) {
    const auto as_signed = static_cast<int64_t>(value);
    if (value < 0x10000) {
        return fmt::format("{}", value);
    }
    if (as_signed < 0 && as_signed > -0x10000) {
        return fmt::format("{}", as_signed);
    }
    return fmt::format("{:#x}", value);
}

std::optional<uint64_t> parse_guest_value(std::string_view text) {
    bool negative = false;
    if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
        negative = text[0] == '-';
        text.remove_prefix(1);
    }
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0') {
        const char p = static_cast<char>(text[1] | 0x20);
        base = p == 'x' ? 16 : p == 'b' ? 2 : p == 'o' ? 8 : 10;
        if (base != 10) {
            text.remove_prefix(2);
        }
    }
    if (text.empty()) {
        return std::nullopt;
    }
    uint64_t value = 0;
    for (char c : text) {
        if (c == '_') {
            continue;
        }
        unsigned digit = 0;
        if (c >= '0' && c <= '9') {
            digit = unsigned(c - '0');
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            digit = unsigned((c | 0x20) - 'a' + 10);
        } else {
            return std::nullopt;
        }
        if (digit >= base || value > (UINT64_MAX - digit) / base) {
            return std::nullopt;
        }
        value = value * base + digit;
    }
    if (negative) {
        if (value > (uint64_t(1) << 63)) {
            return std::nullopt;
        }
        return ~value + 1;
    }
    return value;
}

} // namespace klpemu::scenario
