// Per-CPU stale views of text for the `old` outcome of concurrent modification (see
// stale_fetch.h; Arm ARM B2.2.5).
#include "emu/stale_fetch.h"

#include "emu/check.h"
#include "emu/insn_encoding.h"

namespace klpemu::emu {

std::string_view stale_fetch_name(StaleFetch s) {
    return s == StaleFetch::Old ? "old" : "new";
}

std::optional<StaleFetch> parse_stale_fetch(std::string_view name) {
    if (name == "new") {
        return StaleFetch::New;
    }
    if (name == "old") {
        return StaleFetch::Old;
    }
    return std::nullopt;
}

StaleFetchViews::StaleFetchViews(int cpu_count) : m_views(size_t(cpu_count)) {
    KLP_CHECK(cpu_count > 0, "stale-fetch views need at least one CPU, got {}", cpu_count);
}

bool StaleFetchViews::set(int cpu, GuestAddr pc, std::optional<InsnWord> word) {
    KLP_CHECK(cpu >= 0 && size_t(cpu) < m_views.size(), "cpu {} out of range", cpu);
    auto& view = m_views[size_t(cpu)];
    if (!word || !executable_in_place(*word)) {
        m_held -= view.erase(pc.value);
        return !word.has_value();
    }
    m_held -= view.size();
    view[pc.value] = *word;
    m_held += view.size();
    return true;
}

void StaleFetchViews::synchronise(int cpu) {
    KLP_CHECK(cpu >= 0 && size_t(cpu) < m_views.size(), "cpu {} out of range", cpu);
    m_held -= m_views[size_t(cpu)].size();
    m_views[size_t(cpu)].clear();
}

std::optional<InsnWord> StaleFetchViews::held(int cpu, uint64_t pc) const {
    const auto& view = m_views[size_t(cpu)];
    auto it = view.find(pc);
    if (it == view.end()) {
        return std::nullopt;
    }
    return it->second;
}

bool executable_in_place(InsnWord word) {
    return a64::is_nop(word) || a64::is_b(word) || a64::is_bl(word);
}

InPlaceEffect execute_in_place(uint64_t pc, InsnWord word) {
    KLP_CHECK(executable_in_place(word), "{} cannot be executed in place", word);
    if (a64::is_nop(word)) {
        return InPlaceEffect{pc + kInsnSize, std::nullopt};
    }
    const GuestAddr target = *a64::branch_target(GuestAddr(pc), word);
    if (a64::is_bl(word)) {
        return InPlaceEffect{target.value, pc + kInsnSize};
    }
    return InPlaceEffect{target.value, std::nullopt};
}

} // namespace klpemu::emu
