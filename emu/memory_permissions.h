// Page permissions of guest memory, as arm64 maps the kernel with CONFIG_STRICT_KERNEL_RWX and
// modules with CONFIG_STRICT_MODULE_RWX: text (and PLTs, ftrace trampolines) read+execute,
// rodata read-only, data, bss and stacks read+write and never executable. The machine applies
// these to every CPU's Unicorn instance, so a guest store into text or a branch into data
// faults (a `protection-fault` finding naming the PC and the address); the host's own writes
// (the loader, TextPoke through Machine::write_text) go straight to guest RAM and are the only
// way text changes, as aarch64_insn_patch_text_nosync writes text through the FIX_TEXT_POKE0
// alias rather than through the read-only kernel mapping.
//
// This class is the model: which permission each page range has and why. A writable alias of
// text (FIX_TEXT_POKE0 mapped for the guest) is another range with its own permission.
#pragma once

#include "emu/guest_addr.h"
#include "emu/image.h"

#include <cstdint>
#include <map>
#include <string>

namespace klpemu::emu {

// Bit values match Unicorn's UC_PROT_* (the backend passes them through).
enum class Perm : uint8_t {
    None = 0,
    Read = 1,
    Write = 2,
    Exec = 4,
    ReadWrite = 3,
    ReadExec = 5,
    All = 7,
};

constexpr Perm operator|(Perm a, Perm b) {
    return Perm(uint8_t(a) | uint8_t(b));
}
constexpr bool allows(Perm have, Perm want) {
    return (uint8_t(have) & uint8_t(want)) == uint8_t(want);
}

// "r-x", "rw-", "r--".
std::string perm_str(Perm p);

// The strict-RWX permission of a placed section's pages.
Perm section_permission(SectionKind kind);

class MemoryPermissions {
  public:
    // Records `perm` for `range` (page aligned) and why ("vmlinux:.text"), replacing whatever
    // covered those pages before.
    void set(GuestRange range, Perm perm, std::string what);

    struct Entry {
        GuestRange range;
        Perm perm = Perm::All;
        std::string what;
    };
    // The entry covering `addr`, or nullptr (memory mapped without a recorded permission).
    const Entry* at(GuestAddr addr) const;

  private:
    std::map<uint64_t, Entry> m_entries; // By range.begin; ranges never overlap.
};

} // namespace klpemu::emu
