// TextPoke: the single writer of guest text, modelling arm64's aarch64_insn_patch_text_nosync
// as ftrace uses it (reference §1, §5). Every write is a TextPatch: the old word is read and
// compared first (ftrace_modify_code's -EINVAL on mismatch, nothing written), then one aligned
// 32-bit word is written and translated code is invalidated on every CPU by the target. The
// I-side visibility model (icache_model.h) then says which CPUs may still fetch the old word,
// and each write is checked against the concurrent-modification rule. Every write is logged
// for the transcript as `patch func+0x4: nop -> bl ftrace_caller`.
//
// Findings: cmodx-unsafe, mov-slot-rewritten, stale-fetch, and those of the checks added with
// add_check (callops-order) (docs/findings.md).
#pragma once

#include "emu/address_filter.h"
#include "emu/disassembler.h"
#include "emu/finding.h"
#include "emu/guest_addr.h"
#include "emu/insn_word.h"
#include "emu/result.h"
#include "emu/symbol_table.h"
#include "patcher/icache_model.h"
#include "patcher/text_patch.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

namespace klpemu::patcher {

// The narrow view of the machine TextPoke needs; the machine adapter and unit-test fakes
// implement it.
class TextTarget {
  public:
    virtual ~TextTarget() = default;
    // Reads the 32-bit word at `pc`; fails if unmapped.
    virtual Result<InsnWord> read_word(GuestAddr pc) const = 0;
    // Writes one aligned word and invalidates translated code for it on every CPU.
    virtual Result<void> write_word(GuestAddr pc, InsnWord word) = 0;
    // Reads / writes one aligned 64-bit data word (the CALL_OPS literal: no cache maintenance).
    virtual Result<uint64_t> read_u64(GuestAddr addr) const = 0;
    virtual Result<void> write_u64(GuestAddr addr, uint64_t value) = 0;
    // The global instruction count (the one clock); 0 until any code has run.
    virtual uint64_t instruction_count() const = 0;
    // The visibility model changed for `cpu` at `pc`: under the machine's `old` outcome it keeps
    // executing `word` there (nullopt: memory's word) until its next context synchronisation.
    virtual void set_stale_view(int /*cpu*/, GuestAddr /*pc*/, std::optional<InsnWord> /*word*/) {}
};

// A rule a write must keep, checked before TextPoke writes (callops_order_check.h).
struct PokeViolation {
    std::string kind; // A registered finding kind.
    std::string message;
};
class PokeCheck {
  public:
    virtual ~PokeCheck() = default;
    // The rule `patch` breaks if written now, or nullopt.
    virtual std::optional<PokeViolation> check(const TextPatch& patch) const = 0;
};

// Who writes: the CPU whose cache maintenance makes the new word visible to itself (none: the
// host before any CPU runs, or a write no CPU synchronises).
struct PokeContext {
    std::optional<int> writer_cpu;
    // The text cannot be executing yet (a module being loaded, ftrace_module_init).
    bool text_not_live = false;
};

// One applied write, for transcripts and tests.
struct PokeRecord {
    uint64_t id = 0;
    uint64_t instruction = 0;
    GuestAddr pc;
    InsnWord old_word;
    InsnWord new_word;
    PatchPurpose purpose = PatchPurpose::Other;
    std::string line; // "patch func+0x4: nop -> bl ftrace_caller"
};

class TextPoke {
  public:
    TextPoke(TextTarget& target, const SymbolTable& symbols, int cpu_count);

    // Checks the old word, writes the new one, updates the visibility model, records findings
    // and the log line. Errors (misaligned, unmapped, old-word mismatch) write nothing.
    Result<void> apply(const TextPatch& patch, const PokeContext& context = {});

    // Writes the 8-byte CALL_OPS literal as one aligned data store (no cache maintenance, as
    // aarch64_insn_write_literal_u64), after checking the old value. `function` (the function
    // the literal precedes) names it in the log: "literal g5-0x8: ftrace_nop_ops -> ...".
    Result<void> write_literal(GuestAddr addr, uint64_t expected_old, uint64_t value,
                               const Symbol* function = nullptr);

    // Adds a rule every later write is checked against (findings, never refusals). Contract:
    // `check` outlives this TextPoke.
    void add_check(const PokeCheck* check) { m_checks.push_back(check); }

    // Marks `pc` as a MOV X9 slot: writing it once its code has run is mov-slot-rewritten.
    void watch_mov_slot(GuestAddr pc);
    // Tracks whether `pc` has executed (call sites, trampoline words), for the live-write rules.
    void watch(GuestAddr pc);

    // Observer hooks, called by the machine adapter for every instruction (`word` is what the
    // CPU executes, which under the `old` outcome may not be memory's word) and for every
    // context synchronisation event the machine reports (ISB, exception entry and return).
    void on_instruction(int cpu, GuestAddr pc, InsnWord word, uint64_t instruction);
    void on_context_sync(int cpu);

    // True once `pc` (a watched word) has been executed by any CPU.
    bool has_executed(GuestAddr pc) const { return m_executed.contains(pc); }

    // "nop", "bl ftrace_caller", "mov x9, x30": one instruction as the transcript shows it.
    std::string describe(GuestAddr pc, InsnWord word) const;

    const std::vector<PokeRecord>& log() const { return m_log; }
    const std::vector<Finding>& findings() const { return m_findings; }
    // Moves the findings collected so far out (the report owns them).
    std::vector<Finding> take_findings();
    bool has_findings() const { return !m_findings.empty(); }

    const IcacheModel& icache() const { return m_icache; }

  private:
    void add_finding(std::string kind, Severity severity, GuestAddr pc, std::optional<int> cpu,
                     std::string message);
    bool others_may_execute(const TextPatch& patch, const PokeContext& context) const;
    std::string stale_message(int cpu, GuestAddr pc, InsnWord executed,
                              const IcacheModel::StaleView& stale) const;

    TextTarget& m_target;
    const SymbolTable& m_symbols;
    int m_cpu_count;
    IcacheModel m_icache;
    Disassembler m_disassembler;
    std::unordered_set<GuestAddr> m_mov_slots;
    std::unordered_set<GuestAddr> m_watched; // Consulted on every instruction, behind:
    emu::AddressFilter m_watch_filter;       // Every watched pc.
    void add_watch(GuestAddr pc);
    std::unordered_set<GuestAddr> m_executed;
    std::set<std::pair<int, uint64_t>> m_stale_reported; // (cpu, write id)
    std::vector<PokeRecord> m_log;
    std::vector<Finding> m_findings;
    std::vector<const PokeCheck*> m_checks;
    uint64_t m_next_id = 1;
};

} // namespace klpemu::patcher
