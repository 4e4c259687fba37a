// Typed guest values (style.md §8). A guest virtual address is never a bare integer: GuestAddr
// keeps guest addresses apart from host pointers, offsets and sizes, and prints as 0x%016x.
#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <functional>

namespace klpemu {

struct GuestAddr {
    uint64_t value = 0;

    constexpr GuestAddr() = default;
    constexpr explicit GuestAddr(uint64_t v) : value(v) {}

    constexpr GuestAddr operator+(int64_t off) const { return GuestAddr(value + uint64_t(off)); }
    constexpr GuestAddr operator-(int64_t off) const { return GuestAddr(value - uint64_t(off)); }
    constexpr GuestAddr& operator+=(int64_t off) { value += uint64_t(off); return *this; }
    // Signed distance from `other` to this address.
    constexpr int64_t operator-(GuestAddr other) const { return int64_t(value - other.value); }
    constexpr auto operator<=>(const GuestAddr&) const = default;

    constexpr bool is_aligned(uint64_t alignment) const { return (value & (alignment - 1)) == 0; }
    constexpr GuestAddr align_down(uint64_t alignment) const {
        return GuestAddr(value & ~(alignment - 1));
    }
    constexpr GuestAddr align_up(uint64_t alignment) const {
        return GuestAddr((value + alignment - 1) & ~(alignment - 1));
    }
};

// A half-open guest address range [begin, end).
struct GuestRange {
    GuestAddr begin;
    GuestAddr end;

    constexpr uint64_t size() const { return end.value - begin.value; }
    constexpr bool contains(GuestAddr a) const { return a >= begin && a < end; }
    constexpr bool overlaps(const GuestRange& o) const { return begin < o.end && o.begin < end; }
    constexpr auto operator<=>(const GuestRange&) const = default;
};

} // namespace klpemu

template <> struct std::hash<klpemu::GuestAddr> {
    size_t operator()(klpemu::GuestAddr a) const noexcept { return std::hash<uint64_t>{}(a.value); }
};

template <> struct fmt::formatter<klpemu::GuestAddr> : fmt::formatter<std::string_view> {
    auto format(klpemu::GuestAddr a, format_context& ctx) const {
        return fmt::format_to(ctx.out(), "{:#018x}", a.value);
    }
};
