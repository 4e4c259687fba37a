// The GDB remote serial protocol's wire format, as gdb's "Remote Protocol" appendix defines it:
// packets `$payload#cs` with a modulo-256 checksum, `+`/`-` acknowledgements (until
// QStartNoAckMode), the out-of-band interrupt byte 0x03, hex encoding of bytes, and the
// AArch64 target description the stub serves through qXfer:features:read (the register layout
// gdb's aarch64 port expects: x0-x30, sp, pc, a 32-bit cpsr, then the FP/SIMD feature: v0-v31
// of 128 bits, 32-bit fpsr and fpcr).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::tools::gdb {

// The register numbers of the target description.
inline constexpr int kRegSp = 31;
inline constexpr int kRegPc = 32;
inline constexpr int kRegCpsr = 33;
inline constexpr int kRegV0 = 34; // v0..v31: 34..65 (org.gnu.gdb.aarch64.fpu).
inline constexpr int kRegFpsr = 66;
inline constexpr int kRegFpcr = 67;
inline constexpr int kRegCount = 68;
// Hex characters of register `r` in a g/p reply (16, 8 or 32).
int reg_hex_size(int r);

// `$payload#cs`.
std::string frame(std::string_view payload);
std::string to_hex(std::span<const uint8_t> bytes);
std::string to_hex(std::string_view text);
// Little-endian hex of the low `bytes` bytes of v (gdb sends registers in target order).
std::string le_hex(uint64_t v, int bytes);
std::optional<std::vector<uint8_t>> from_hex(std::string_view hex);
// A little-endian hex register value; nullopt if malformed or longer than 8 bytes.
std::optional<uint64_t> parse_le_hex(std::string_view hex);
// A 128-bit register value in target (little-endian) order: 32 hex characters; nullopt if
// malformed.
struct Hex128 {
    uint64_t lo = 0;
    uint64_t hi = 0;
};
std::optional<Hex128> parse_le_hex128(std::string_view hex);
// A big-endian hex number as in "m<addr>,<len>"; nullopt if malformed.
std::optional<uint64_t> parse_hex_number(std::string_view hex);

// Reassembles packets from a byte stream.
class PacketReader {
  public:
    // Feeds received bytes.
    void feed(std::string_view bytes);
    // The next complete event, if any: a packet payload (checksum verified), or "\x03" for an
    // interrupt request. `bad_checksum` is set when a packet must be NAKed.
    std::optional<std::string> next(bool& bad_checksum);
    // Bytes received but not yet taken as a packet (they move with a checkpoint handoff).
    const std::string& unread() const { return m_buffer; }

  private:
    std::string m_buffer;
};

// The target description (target.xml) of an AArch64 CPU: core and FP/SIMD registers.
const std::string& aarch64_target_xml();

} // namespace klpemu::tools::gdb
