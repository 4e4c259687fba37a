// InsnWord: one A64 instruction encoding (always 32 bits, little-endian in memory). A distinct
// type so encodings are never confused with data words or addresses (style.md §8).
#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstdint>

namespace klpemu {

struct InsnWord {
    uint32_t raw = 0;

    constexpr InsnWord() = default;
    constexpr explicit InsnWord(uint32_t r) : raw(r) {}
    constexpr auto operator<=>(const InsnWord&) const = default;
};

inline constexpr uint32_t kInsnSize = 4; // AARCH64_INSN_SIZE

} // namespace klpemu

template <> struct fmt::formatter<klpemu::InsnWord> : fmt::formatter<std::string_view> {
    auto format(klpemu::InsnWord w, format_context& ctx) const {
        return fmt::format_to(ctx.out(), "{:08x}", w.raw);
    }
};
