// The machine's stack checks as a feature of the machine backend (machine_feature.h), attached
// to every scenario: the store-below-sp check (emu/store_below_sp_check.h) watches every task's
// kernel stack whatever else the scenario enables, since any kernel code, not only an ftrace
// trampoline, can leave data below SP for an exception to overwrite.
#pragma once

#include "emu/store_below_sp_check.h"
#include "scenarios/machine_feature.h"

#include <memory>

namespace klpemu::scenario {

class StackCheckFeature final : public MachineFeature {
  public:
    static FeatureKind kind();

    explicit StackCheckFeature(std::unique_ptr<emu::StoreBelowSpCheck> check)
        : m_check(std::move(check)) {}

  private:
    std::unique_ptr<emu::StoreBelowSpCheck> m_check;
};

} // namespace klpemu::scenario
