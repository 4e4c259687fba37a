// The FIX_TEXT_POKE0 fixmap slot: the writable alias through which arm64 Linux writes its own
// read-only text (arch/arm64/kernel/patching.c: aarch64_insn_patch_text_nosync ->
// aarch64_insn_write -> __aarch64_insn_write maps the text page at FIX_TEXT_POKE0, does one
// copy_to_kernel_nofault of the instruction, unmaps; aarch64_insn_write_literal_u64 does the
// same for an 8-byte literal). Text stays r-x through its own mapping (strict RWX): a guest store
// there is a `protection-fault`; a store through this alias is a text write.
//
// The machine models the slot as one page at kTextPokeAliasBase that `patch_map` (guest host
// call) points at a text page. Unicorn maps it r-- so that each store into it is caught before
// it happens (a write-protection event the machine allows: Machine::on_protected_write) with no
// hook on every other store; after the storing instruction completes the machine hands each one
// to the registered TextAliasWriter (the patcher's TextPoke: old word, CMODX rule, per-CPU
// visibility, invalidation of every CPU's translated code); with no writer registered the
// machine writes the text itself. Loads through the alias read the alias page, which holds the
// text page as it was at patch_map plus the stores made through it since.
//
// Guest entry points (emu/guest/text_poke.S, loaded at kTextPokeCodeBase): patch_map,
// patch_unmap, aarch64_insn_patch_text_nosync, aarch64_insn_write_literal_u64.
#pragma once

#include "emu/guest_addr.h"
#include "emu/result.h"

#include <cstdint>
#include <optional>

namespace klpemu::emu {

// The fixmap slot (one page), far from every other region (fixmap sits near the top of the
// kernel VA space on arm64 too).
inline constexpr GuestAddr kTextPokeAliasBase{0xfffffdfffe000000ULL};
// The guest patching routines: the last 64 KiB of the kernel image area, so loading them never
// moves any other object's address.
inline constexpr uint64_t kTextPokeCodeSize = 64 * 1024;

// Receives guest stores made through the alias, once the storing instruction has completed.
class TextAliasWriter {
  public:
    virtual ~TextAliasWriter() = default;
    // `cpu` stored `size` bytes (1, 2, 4 or 8) of `value` at text address `addr` with the
    // instruction at `pc`. Errors end the storing task with a finding naming them.
    virtual Result<void> alias_store(int cpu, GuestAddr pc, GuestAddr addr, int size,
                                     uint64_t value) = 0;
};

// Which text page the slot maps (set_fixmap_offset / clear_fixmap).
class TextPokeAlias {
  public:
    // Maps the page holding `text` at the slot; returns the alias of `text` (same page offset).
    GuestAddr map(GuestAddr text);
    void unmap() { m_page.reset(); }
    // True if [addr, addr + size) touches the slot's page.
    static bool covers(uint64_t addr, int size);
    // The text address a slot address stands for, or nullopt while nothing is mapped.
    std::optional<GuestAddr> text_address(uint64_t alias_addr) const;
    std::optional<GuestAddr> mapped_page() const { return m_page; }

  private:
    std::optional<GuestAddr> m_page;
};

} // namespace klpemu::emu
