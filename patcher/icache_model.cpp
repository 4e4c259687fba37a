// The I-side visibility model: per-CPU overlays of words written but not yet synchronised.
// See icache_model.h for the architectural rule it follows.
#include "patcher/icache_model.h"

#include "emu/check.h"

#include <algorithm>

namespace klpemu::patcher {

IcacheModel::IcacheModel(int cpu_count) : m_stale(size_t(cpu_count)) {
    KLP_CHECK(cpu_count > 0, "an I-side model needs at least one CPU, got {}", cpu_count);
}

void IcacheModel::note_write(GuestAddr pc, InsnWord old_word, InsnWord new_word,
                             std::optional<int> writer, uint64_t write_id) {
    if (old_word == new_word) {
        return; // Nothing any CPU could fetch changes.
    }
    for (int cpu = 0; cpu < cpu_count(); ++cpu) {
        auto& view = m_stale[size_t(cpu)];
        if (writer && *writer == cpu) {
            view.erase(pc);
            continue;
        }
        auto it = view.find(pc);
        if (it == view.end()) {
            view.emplace(pc, StaleView{old_word, new_word, write_id, {old_word}});
            continue;
        }
        // Still unsynchronised from an earlier write: it may fetch any word held since its last
        // synchronisation, the one memory held until now included.
        StaleView& stale = it->second;
        auto& words = stale.may_fetch;
        if (std::find(words.begin(), words.end(), stale.new_word) == words.end()) {
            words.push_back(stale.new_word);
        }
        std::erase(words, new_word);
        stale.new_word = new_word;
        stale.write_id = write_id;
    }
}

void IcacheModel::synchronise(int cpu) {
    KLP_CHECK(cpu >= 0 && cpu < cpu_count(), "cpu {} out of range", cpu);
    m_stale[size_t(cpu)].clear();
}

std::optional<IcacheModel::StaleView> IcacheModel::stale_view(int cpu, GuestAddr pc) const {
    KLP_CHECK(cpu >= 0 && cpu < cpu_count(), "cpu {} out of range", cpu);
    const auto& view = m_stale[size_t(cpu)];
    auto it = view.find(pc);
    if (it == view.end()) {
        return std::nullopt;
    }
    return it->second;
}

bool IcacheModel::stale_elsewhere(int cpu, GuestAddr pc) const {
    for (int other = 0; other < cpu_count(); ++other) {
        if (other != cpu && m_stale[size_t(other)].contains(pc)) {
            return true;
        }
    }
    return false;
}

size_t IcacheModel::stale_count(int cpu) const {
    KLP_CHECK(cpu >= 0 && cpu < cpu_count(), "cpu {} out of range", cpu);
    return m_stale[size_t(cpu)].size();
}

} // namespace klpemu::patcher
