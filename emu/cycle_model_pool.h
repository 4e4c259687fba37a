// Cycle models handed from one machine to the next. A CycleModel decodes each instruction word
// with LLVM (the disassembler and llvm-mca's InstrBuilder, ≈ 3,300 host instructions a word) and
// keeps what it decoded; `klpemu run` boots one machine per scenario, and each fresh model
// decoded the same kernel words again (≈ 4.5 % of a warm library run, and building the model
// another 2 %). A model's facts are a pure function of the word; the pool and advance-group ids
// it hands out index its own tables, so a machine that gets a model another machine used sees
// the same costs (tests/unit/cycle_model_test.cpp checks the cycles are the same).
//
// A model is never shared by two live machines: acquire() returns a model no one holds, and it
// comes back to the pool when the last holder lets it go. Safe to share between threads.
#pragma once

#include "emu/cycle_model.h"
#include "emu/result.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu {

class CycleModelPool {
  public:
    CycleModelPool();

    // A model of `core` no one else holds: one an earlier holder gave back, or a new one
    // (CycleModel::create's error for an unknown core).
    Result<std::shared_ptr<const CycleModel>> acquire(std::string_view core);
    // Models waiting in the pool (for tests).
    size_t idle() const;

  private:
    // A model's pool and advance-group tables only grow and hold at most 255 entries each
    // (CycleModel aborts past that). A model handed on keeps what earlier machines added, so
    // one that has used a quarter of either is freed instead of handed on: every machine
    // starts with at least 191 free. The whole bundled library adds 5 pools and 34 groups; a
    // fuzz worker's random words may add many more.
    static constexpr size_t kRetireAt = 64;
    struct State {
        mutable std::mutex mutex;
        std::map<std::string, std::vector<std::unique_ptr<CycleModel>>, std::less<>> idle;
    };
    std::shared_ptr<State> m_state; // Also held by every model handed out, to come back to.
};

} // namespace klpemu
