// Guest integers as scenario files write them and transcripts print them. Small values read
// best in decimal, addresses and masks in hex, small negative values (error codes like -16,
// -EBUSY) as negative numbers: one rule used everywhere, so goldens stay stable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace klpemu::scenario {

// Decimal for |v| < 0x10000 (negative as two's complement), hex `0x...` otherwise.
std::string format_guest_value(uint64_t value);

// Parses "42", "-16", "0x2a", "0b101", "0o17" (underscores allowed); nullopt if malformed or
// out of the 64-bit range.
std::optional<uint64_t> parse_guest_value(std::string_view text);

} // namespace klpemu::scenario
