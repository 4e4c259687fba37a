// The reliability checker's statistics (reliability_checker.h): per policy, how many views were
// compared with a complete ground truth and how each answer came out, in total and per function
// (the symbol containing the checked pc). Counting only: what is counted is the checker's.
#pragma once

#include "emu/guest_addr.h"
#include "emu/symbol_table.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace klpemu::unwinder {

struct PolicyStats {
    uint64_t checked = 0;          // Views compared with a complete truth.
    uint64_t reliable_correct = 0; // Reliable and equal to the truth.
    uint64_t unreliable = 0;       // Said unreliable although the truth was complete.
    uint64_t unsound = 0;          // Said reliable and wrong.
    uint64_t skipped = 0;          // The truth was incomplete.
};

class CheckStatistics {
  public:
    // One PolicyStats per policy, in the checker's policy order. `symbols` must outlive this.
    CheckStatistics(const SymbolTable& symbols, std::vector<std::string_view> policies);

    // The per-function row of the function containing `pc` (stable address: cache it).
    std::vector<PolicyStats>& function_row(GuestAddr pc);
    // Objects were loaded: pcs may belong to other functions now.
    void forget_pcs() { m_rows_by_pc.clear(); }

    void count_skipped(std::vector<PolicyStats>& row);
    // Each counts `n` views (the checker defers counting repeated verdicts, walk_memo.h).
    void count_correct(std::vector<PolicyStats>& row, size_t policy, uint64_t n = 1);
    void count_unreliable(std::vector<PolicyStats>& row, size_t policy, uint64_t n = 1);
    void count_unsound(std::vector<PolicyStats>& row, size_t policy, uint64_t n = 1);

    const PolicyStats& total(size_t policy) const { return m_total[policy]; }
    // Per function (symbol name) and policy.
    std::map<std::string, std::map<std::string, PolicyStats>> per_function() const;
    // A deterministic text table of the totals.
    std::string summary() const;

  private:
    const SymbolTable& m_symbols;
    std::vector<std::string_view> m_policies;
    std::vector<PolicyStats> m_total;
    std::map<std::string, std::vector<PolicyStats>> m_per_function;
    std::unordered_map<GuestAddr, std::vector<PolicyStats>*> m_rows_by_pc;
};

} // namespace klpemu::unwinder
