// See gdb_protocol.h.
#include "tools/gdb_protocol.h"

#include <fmt/format.h>

namespace klpemu::tools::gdb {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

} // namespace

std::string frame(std::string_view payload) {
    uint8_t sum = 0;
    for (char c : payload) {
        sum = uint8_t(sum + uint8_t(c));
    }
    return fmt::format("${}#{:02x}", payload, sum);
}

std::string to_hex(std::span<const uint8_t> bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out += fmt::format("{:02x}", b);
    }
    return out;
}

std::string to_hex(std::string_view text) {
    return to_hex(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::string le_hex(uint64_t v, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) {
        out += fmt::format("{:02x}", (v >> (8 * i)) & 0xff);
    }
    return out;
}

std::optional<std::vector<uint8_t>> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) {
        return std::nullopt;
    }
    std::vector<uint8_t> out;
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        const int hi = hex_digit(hex[i]);
        const int lo = hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out.push_back(uint8_t(hi << 4 | lo));
    }
    return out;
}

std::optional<uint64_t> parse_le_hex(std::string_view hex) {
    auto bytes = from_hex(hex);
    if (!bytes || bytes->empty() || bytes->size() > 8) {
        return std::nullopt;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < bytes->size(); ++i) {
        v |= uint64_t((*bytes)[i]) << (8 * i);
    }
    return v;
}

std::optional<Hex128> parse_le_hex128(std::string_view hex) {
    if (hex.size() != 32) {
        return std::nullopt;
    }
    const auto lo = parse_le_hex(hex.substr(0, 16));
    const auto hi = parse_le_hex(hex.substr(16));
    if (!lo || !hi) {
        return std::nullopt;
    }
    return Hex128{*lo, *hi};
}

int reg_hex_size(int r) {
    if (r >= kRegV0 && r < kRegV0 + 32) {
        return 32;
    }
    return r == kRegCpsr || r == kRegFpsr || r == kRegFpcr ? 8 : 16;
}

std::optional<uint64_t> parse_hex_number(std::string_view hex) {
    if (hex.empty() || hex.size() > 16) {
        return std::nullopt;
    }
    uint64_t v = 0;
    for (char c : hex) {
        const int d = hex_digit(c);
        if (d < 0) {
            return std::nullopt;
        }
        v = v << 4 | uint64_t(d);
    }
    return v;
}

void PacketReader::feed(std::string_view bytes) {
    m_buffer.append(bytes);
}

std::optional<std::string> PacketReader::next(bool& bad_checksum) {
    bad_checksum = false;
    while (!m_buffer.empty()) {
        const char c = m_buffer.front();
        if (c == '\x03') {
            m_buffer.erase(0, 1);
            return std::string("\x03");
        }
        if (c != '$') {
            m_buffer.erase(0, 1); // Acks and noise between packets.
            continue;
        }
        const size_t hash = m_buffer.find('#');
        if (hash == std::string::npos || hash + 2 >= m_buffer.size()) {
            return std::nullopt; // Incomplete.
        }
        std::string payload = m_buffer.substr(1, hash - 1);
        const auto sum = parse_hex_number(std::string_view(m_buffer).substr(hash + 1, 2));
        m_buffer.erase(0, hash + 3);
        uint8_t mine = 0;
        for (char p : payload) {
            mine = uint8_t(mine + uint8_t(p));
        }
        if (!sum || *sum != mine) {
            bad_checksum = true;
            return std::string();
        }
        return payload;
    }
    return std::nullopt;
}

namespace {

// The FP/SIMD feature as gdb's aarch64 port reads it: each v register is a union of its lane
// views (d, s, h, b, q), each lane view a union of float/unsigned/signed vectors, so that
// `p $v0.d.u[0]` and `p $v0.s.f` work.
std::string fpu_feature() {
    std::string regs;
    for (int i = 0; i < 32; ++i) {
        regs += fmt::format("    <reg name=\"v{}\" bitsize=\"128\" type=\"aarch64v\"{}/>\n", i,
                            i == 0 ? fmt::format(" regnum=\"{}\"", kRegV0) : std::string());
    }
    return fmt::format(R"(  <feature name="org.gnu.gdb.aarch64.fpu">
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v2u" type="uint64" count="2"/>
    <vector id="v2i" type="int64" count="2"/>
    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v4u" type="uint32" count="4"/>
    <vector id="v4i" type="int32" count="4"/>
    <vector id="v8f" type="ieee_half" count="8"/>
    <vector id="v8u" type="uint16" count="8"/>
    <vector id="v8i" type="int16" count="8"/>
    <vector id="v16u" type="uint8" count="16"/>
    <vector id="v16i" type="int8" count="16"/>
    <vector id="v1u" type="uint128" count="1"/>
    <vector id="v1i" type="int128" count="1"/>
    <union id="vnd">
      <field name="f" type="v2d"/>
      <field name="u" type="v2u"/>
      <field name="s" type="v2i"/>
    </union>
    <union id="vns">
      <field name="f" type="v4f"/>
      <field name="u" type="v4u"/>
      <field name="s" type="v4i"/>
    </union>
    <union id="vnh">
      <field name="f" type="v8f"/>
      <field name="u" type="v8u"/>
      <field name="s" type="v8i"/>
    </union>
    <union id="vnb">
      <field name="u" type="v16u"/>
      <field name="s" type="v16i"/>
    </union>
    <union id="vnq">
      <field name="u" type="v1u"/>
      <field name="s" type="v1i"/>
    </union>
    <union id="aarch64v">
      <field name="d" type="vnd"/>
      <field name="s" type="vns"/>
      <field name="h" type="vnh"/>
      <field name="b" type="vnb"/>
      <field name="q" type="vnq"/>
    </union>
{}    <reg name="fpsr" bitsize="32" regnum="{}"/>
    <reg name="fpcr" bitsize="32" regnum="{}"/>
  </feature>
)",
                       regs, kRegFpsr, kRegFpcr);
}

} // namespace

const std::string& aarch64_target_xml() {
    static const std::string xml = [] {
        std::string regs;
        for (int i = 0; i < 31; ++i) {
            regs += fmt::format("    <reg name=\"x{}\" bitsize=\"64\"{}/>\n", i,
                                i == 29 ? " type=\"data_ptr\"" : "");
        }
        return fmt::format(R"(<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
  <architecture>aarch64</architecture>
  <feature name="org.gnu.gdb.aarch64.core">
{}    <reg name="sp" bitsize="64" type="data_ptr"/>
    <reg name="pc" bitsize="64" type="code_ptr"/>
    <reg name="cpsr" bitsize="32"/>
  </feature>
{}</target>
)",
                           regs, fpu_feature());
    }();
    return xml;
}

} // namespace klpemu::tools::gdb
