// vsnprintf for guest format strings: printk and seq_printf lines are formatted on the host
// from the guest's variadic arguments (AAPCS64: the first ones in registers, the rest on the
// stack in 8-byte slots). Supports the conversions kernel modules use in log lines:
// %s %d %i %u %x %X %c %p %px %ps %pS %pGg %%, the l/ll/z/h length modifiers, '-' and '0' flags
// and a field width. %p prints a hashed-looking value in the kernel; here it prints the
// address in hex like %px (documented in docs/livepatch.md), so transcripts stay readable.
#pragma once

#include "emu/guest_addr.h"
#include "emu/guest_memory.h"
#include "emu/symbol_table.h"

#include <cstdint>
#include <functional>
#include <string>

namespace klpemu::patcher::livepatch {

// Reads a NUL-terminated guest string (at most `max` bytes; "(null)" for address 0).
std::string read_guest_string(const emu::GuestMemory& memory, GuestAddr addr, size_t max = 1024);

// Formats `format` with arguments taken in order from `next_arg()`.
std::string format_guest(const emu::GuestMemory& memory, const SymbolTable& symbols,
                         const std::string& format, const std::function<uint64_t()>& next_arg);

} // namespace klpemu::patcher::livepatch
