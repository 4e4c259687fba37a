// Cycle models handed from one machine to the next (see cycle_model_pool.h).
#include "emu/cycle_model_pool.h"

namespace klpemu {

CycleModelPool::CycleModelPool() : m_state(std::make_shared<State>()) {}

Result<std::shared_ptr<const CycleModel>> CycleModelPool::acquire(std::string_view core) {
    std::unique_ptr<CycleModel> model;
    {
        std::lock_guard lock(m_state->mutex);
        auto it = m_state->idle.find(core);
        if (it != m_state->idle.end() && !it->second.empty()) {
            model = std::move(it->second.back());
            it->second.pop_back();
        }
    }
    if (!model) {
        KLP_TRY_ASSIGN(made, CycleModel::create(core));
        model = std::make_unique<CycleModel>(std::move(made));
    }
    // The last holder puts the model back (the pool's state outlives the pool if it must).
    auto give_back = [state = m_state](const CycleModel* m) {
        std::unique_ptr<CycleModel> owned(const_cast<CycleModel*>(m));
        const SchedTables& t = owned->tables();
        if (t.pools.size() > kRetireAt || t.advance.size() > kRetireAt) {
            return; // Freed: the next machine starts with the tables' whole room.
        }
        std::lock_guard lock(state->mutex);
        state->idle[owned->core()].push_back(std::move(owned));
    };
    return std::shared_ptr<const CycleModel>(model.release(), give_back);
}

size_t CycleModelPool::idle() const {
    std::lock_guard lock(m_state->mutex);
    size_t n = 0;
    for (const auto& [core, models] : m_state->idle) {
        n += models.size();
    }
    return n;
}

} // namespace klpemu
