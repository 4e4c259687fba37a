// A set of instruction addresses that answers "certainly not here" with one bit test. The
// machine's observers run before every guest instruction, but most of them act at a handful of
// pcs: the text poker's watched call sites, a module's PLT slots, the ftrace trampoline's
// entries and exits. A clear bit lets the common instruction leave without a hash or tree
// lookup; a set bit only means "look it up" (bits are shared modulo kBits and never cleared,
// so removing an address from the set it guards needs nothing here).
#pragma once

#include "emu/guest_addr.h"

#include <bitset>
#include <cstddef>

namespace klpemu::emu {

class AddressFilter {
  public:
    void add(GuestAddr pc) { m_bits.set(slot(pc)); }
    // False only if `pc` was never added.
    bool may_contain(GuestAddr pc) const { return m_bits.test(slot(pc)); }

  private:
    static constexpr size_t kBits = 4096; // One bit per 4-byte slot modulo this: 512 bytes.
    static size_t slot(GuestAddr pc) { return size_t(pc.value >> 2) % kBits; }
    std::bitset<kBits> m_bits;
};

} // namespace klpemu::emu
