// The I-side visibility model of arm64 text patching (reference §5, Arm ARM B2.2.5). The
// kernel's aarch64_insn_patch_text_nosync writes one word and runs DC CVAU / DSB / IC IVAU /
// DSB / ISB on the writing CPU only: that CPU fetches the new word at once, every other CPU
// may keep fetching the old word until its next context-synchronising event (ISB, exception
// entry, exception return). Unicorn runs whatever memory holds after an invalidation, so this
// model keeps, per CPU, the words that CPU has not yet synchronised and says which word it
// may still be fetching. The checks built on it (stale-fetch) read the model, never Unicorn
// timing.
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace klpemu::patcher {

class IcacheModel {
  public:
    // A model for `cpu_count` CPUs, all synchronised with memory.
    explicit IcacheModel(int cpu_count);

    int cpu_count() const { return int(m_stale.size()); }

    // Records that `pc` changed from `old_word` to `new_word`; `writer` (if any) ran the cache
    // maintenance and sees the new word, every other CPU keeps `old_word` in view. A CPU that has
    // not synchronised since an earlier write may fetch any word `pc` held since then: a second
    // write adds to that set, and writing the oldest word back (A -> B -> A) does not clear it.
    void note_write(GuestAddr pc, InsnWord old_word, InsnWord new_word, std::optional<int> writer,
                    uint64_t write_id);

    // A context-synchronising event on `cpu` (ISB, exception entry or return): its view
    // becomes memory.
    void synchronise(int cpu);

    // The stale word `cpu` may still fetch at `pc`, with the write that made it stale.
    struct StaleView {
        InsnWord old_word;               // What `pc` held at the CPU's last synchronisation.
        InsnWord new_word;               // What memory holds now.
        uint64_t write_id = 0;           // The latest write.
        std::vector<InsnWord> may_fetch; // Every word `pc` held since then, oldest first,
                                         // memory's own word excluded.
    };
    std::optional<StaleView> stale_view(int cpu, GuestAddr pc) const;
    // False when `cpu` sees memory everywhere (the usual case): no stale_view lookup needed.
    bool any_stale(int cpu) const { return !m_stale[size_t(cpu)].empty(); }

    // True if any CPU other than `cpu` has a stale view of `pc`.
    bool stale_elsewhere(int cpu, GuestAddr pc) const;

    // Number of words `cpu` has not synchronised.
    size_t stale_count(int cpu) const;

  private:
    std::vector<std::map<GuestAddr, StaleView>> m_stale; // Per CPU.
};

} // namespace klpemu::patcher
