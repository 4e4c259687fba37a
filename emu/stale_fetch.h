// The other outcome of concurrent modification of code (Arm ARM B2.2.5, "Concurrent modification
// and execution of instructions"). When one PE writes an instruction that another PE may be
// executing, and both words are in the concurrent-modification set (B, BL, BRK, HVC, ISB, NOP,
// SMC, SVC), the other PE executes either the old or the new word until it performs a context
// synchronisation event (ISB, exception entry, exception return; Linux sets SCTLR_EL1.EIS|EOS,
// so SVC entry and ERET to EL0 count). Unicorn always runs what memory holds, which is the `new`
// outcome. Under `old`, the machine keeps for each CPU the words it still executes in place of
// memory — what each written word was at that CPU's last synchronisation: its view of text with
// the writes since then still pending — and runs them itself, until its next context
// synchronisation: the trace and every observer see what the CPU really executed.
//
// Only words the machine can execute in place are kept: NOP, B and BL (the words ftrace and
// livepatch swap). Any other old word runs as memory holds it (the `new` outcome).
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace klpemu::emu {

// Which architecturally allowed word an unsynchronised CPU executes ([machine] stale_fetch).
enum class StaleFetch { New, Old };

std::string_view stale_fetch_name(StaleFetch s);
// "new" / "old"; nullopt for anything else.
std::optional<StaleFetch> parse_stale_fetch(std::string_view name);

class StaleFetchViews {
  public:
    // Views for `cpu_count` CPUs, each synchronised with memory.
    explicit StaleFetchViews(int cpu_count);

    // `cpu` executes `word` at `pc` (instead of memory) until its next synchronisation; with
    // nullopt it executes memory again. Words the machine cannot execute in place are not kept
    // (returns false).
    bool set(int cpu, GuestAddr pc, std::optional<InsnWord> word);
    // A context synchronisation event on `cpu`: it executes memory from now on.
    void synchronise(int cpu);

    // Fast test for the code hook: does `cpu` hold any word at all.
    bool any(int cpu) const { return m_held != 0 && !m_views[size_t(cpu)].empty(); }
    // The word `cpu` executes at `pc` instead of memory, if any.
    std::optional<InsnWord> held(int cpu, uint64_t pc) const;

  private:
    std::vector<std::unordered_map<uint64_t, InsnWord>> m_views; // Per CPU: pc -> word.
    size_t m_held = 0; // Words held by all CPUs together: the hook's test is one load.
};

// Whether the machine can execute `word` in place of memory (NOP, B, BL).
bool executable_in_place(InsnWord word);

// What executing NOP, B or BL at `pc` does: the next PC and, for BL, the link value.
struct InPlaceEffect {
    uint64_t next_pc = 0;
    std::optional<uint64_t> link;
};
// Contract: executable_in_place(word).
InPlaceEffect execute_in_place(uint64_t pc, InsnWord word);

} // namespace klpemu::emu
