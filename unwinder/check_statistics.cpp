// See check_statistics.h.
#include "unwinder/check_statistics.h"

#include <fmt/format.h>

namespace klpemu::unwinder {

CheckStatistics::CheckStatistics(const SymbolTable& symbols, std::vector<std::string_view> policies)
    : m_symbols(symbols), m_policies(std::move(policies)), m_total(m_policies.size()) {}

std::vector<PolicyStats>& CheckStatistics::function_row(GuestAddr pc) {
    auto it = m_rows_by_pc.find(pc);
    if (it != m_rows_by_pc.end()) {
        return *it->second;
    }
    const Symbolized s = m_symbols.symbolize(pc);
    std::vector<PolicyStats>& row = m_per_function[s.base.empty() ? "?" : s.base];
    row.resize(m_policies.size());
    m_rows_by_pc.emplace(pc, &row);
    return row;
}

void CheckStatistics::count_skipped(std::vector<PolicyStats>& row) {
    for (size_t i = 0; i < m_policies.size(); ++i) {
        ++m_total[i].skipped;
        ++row[i].skipped;
    }
}

void CheckStatistics::count_correct(std::vector<PolicyStats>& row, size_t policy, uint64_t n) {
    m_total[policy].checked += n;
    row[policy].checked += n;
    m_total[policy].reliable_correct += n;
    row[policy].reliable_correct += n;
}

void CheckStatistics::count_unreliable(std::vector<PolicyStats>& row, size_t policy, uint64_t n) {
    m_total[policy].checked += n;
    row[policy].checked += n;
    m_total[policy].unreliable += n;
    row[policy].unreliable += n;
}

void CheckStatistics::count_unsound(std::vector<PolicyStats>& row, size_t policy, uint64_t n) {
    m_total[policy].checked += n;
    row[policy].checked += n;
    m_total[policy].unsound += n;
    row[policy].unsound += n;
}

std::map<std::string, std::map<std::string, PolicyStats>> CheckStatistics::per_function() const {
    std::map<std::string, std::map<std::string, PolicyStats>> out;
    for (const auto& [fn, row] : m_per_function) {
        for (size_t i = 0; i < m_policies.size(); ++i) {
            out[fn][std::string(m_policies[i])] = row[i];
        }
    }
    return out;
}

std::string CheckStatistics::summary() const {
    std::string out = fmt::format("{:<10} {:>10} {:>10} {:>10} {:>8} {:>8}\n", "policy", "checked",
                                  "reliable", "unreliable", "unsound", "skipped");
    for (size_t i = 0; i < m_policies.size(); ++i) {
        const PolicyStats& s = m_total[i];
        out += fmt::format("{:<10} {:>10} {:>10} {:>10} {:>8} {:>8}\n", m_policies[i], s.checked,
                           s.reliable_correct, s.unreliable, s.unsound, s.skipped);
    }
    return out;
}

} // namespace klpemu::unwinder
