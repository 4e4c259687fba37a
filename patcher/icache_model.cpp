// The I-side visibility model: per-CPU overlays of words written but not yet synchronised.
// See icache_model.h for the architectural rule it follows.
#include "patcher/icache_model.h"

#include "emu/check.h"

namespace klpemu::patcher {

IcacheModel::IcacheModel(int cpu_count) : m_stale(size_t(cpu_count)) {
    KLP_CHECK(cpu_count > 0, "an I-side model needs at least one CPU, got {}", cpu_count);
}

void IcacheModel::note_write(GuestAddr pc, InsnWord old_word, InsnWord new_word,
                             std::optional<int> writer, uint64_t write_id) {
    for (int cpu = 0; cpu < cpu_count(); ++cpu) {
        auto& view = m_stale[size_t(cpu)];
        if (writer && *writer == cpu) {
            view.erase(pc);
            continue;
        }
        auto it = view.find(pc);
        if (it == view.end()) {
            view.emplace(pc, StaleView{old_word, new_word, write_id});
            continue;
        }
        // Still unsynchronised from an earlier write: it may fetch that oldest word or any
        // later one; keep the oldest and record the newest.
        it->second.new_word = new_word;
        it->second.write_id = write_id;
        if (it->second.old_word == new_word) {
            view.erase(it); // Written back to what this CPU still sees: nothing is stale.
        }
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
