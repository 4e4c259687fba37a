// The text guard: no word the guest can reach is handed to a translator path that aborts the
// host (issue 18). Every word of executable guest memory is classified (emu/insn_guard.h) when
// it is loaded and whenever the host writes it (Machine::write_text*, GuestMemory stores). The
// guest cannot store to it: executable memory is r-x (emu/memory_permissions.h), and a store
// through the FIX_TEXT_POKE0 alias becomes a host text write. The addresses of trapping words
// become Unicorn "exits": QEMU's translator checks each PC against the exit set *before* it
// fetches the word and ends the block there, so a bad word is never decoded, not even one that
// sits ahead of the PC in the block being translated. The CPU stops with PC at the word and the
// machine reports `undefined-instruction` there, as the architecture's UDEF would.
#pragma once

#include "emu/guest_addr.h"
#include "emu/guest_memory.h"
#include "emu/insn_guard.h"
#include "emu/memory_permissions.h"

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace klpemu::emu {

// Only pages the guest may execute are guarded: a fetch from a page without execute permission
// faults before the translator reads it, and an A64 translation block never crosses a page
// (QEMU bounds it by the instructions left on the page). Data pages, written by the host all the
// time, therefore add no exits, and Unicorn 2.0.1 invalidates the block at every exit each time
// emulation starts, so each exit costs every host call.
class TextGuard {
  public:
    // `memory` and `permissions` must outlive the guard.
    TextGuard(const GuestMemory& memory, const MemoryPermissions& permissions)
        : m_memory(memory), m_permissions(permissions) {}

    // Reclassifies every word overlapping [begin, end) of executable memory as memory holds it
    // now (words on pages without execute permission never trap). Call it after a permission
    // change too. Returns true if the set of trapping addresses changed.
    bool rescan(GuestAddr begin, GuestAddr end);

    // Whether the word at `pc` is known to trap.
    bool traps_at(uint64_t pc) const { return m_traps.count(pc) != 0; }
    // The word at `pc` as memory holds it, and its class (nullopt if unmapped).
    std::optional<std::pair<InsnWord, WordClass>> classify_at(uint64_t pc);
    // The exit list for Unicorn: every trapping address (no sentinel: any address can be a
    // branch target, and an exit there would turn a fetch fault into a guard stop).
    std::vector<uint64_t> exits() const;
    size_t trap_count() const { return m_traps.size(); }

  private:
    bool update(uint64_t addr, InsnWord w);
    // Forgets the traps in [begin, end); true if there were any.
    bool forget(uint64_t begin, uint64_t end);
    bool executable_page(uint64_t page) const;
    const GuestMemory& m_memory;
    const MemoryPermissions& m_permissions;
    InsnClassifier m_classifier;
    std::set<uint64_t> m_traps;
};

} // namespace klpemu::emu
