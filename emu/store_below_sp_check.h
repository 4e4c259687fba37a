// The store-below-sp check (docs/findings.md). arm64 kernel code takes exceptions on the
// interrupted task's own stack: exception entry pushes pt_regs immediately below SP. A store
// below SP is therefore data an IRQ taken at the next instruction would overwrite — the defect
// of the v3 WITH_REGS trampoline (seeds/001), which saved registers before moving SP down. The
// check watches every guest store into a task's kernel stack and reports the first one below
// the SP the storing instruction leaves behind, once per PC.
#pragma once

#include "emu/guest_addr.h"
#include "emu/machine.h"
#include "emu/observer.h"

#include <set>

namespace klpemu::emu {

class StoreBelowSpCheck final : public ExecutionObserver {
  public:
    // Attaches to `machine` (which must outlive the check). Contract: the machine was created
    // with MachineConfig::observe_memory_writes, else the check sees nothing.
    explicit StoreBelowSpCheck(Machine& machine);
    ~StoreBelowSpCheck() override;
    StoreBelowSpCheck(const StoreBelowSpCheck&) = delete;
    StoreBelowSpCheck& operator=(const StoreBelowSpCheck&) = delete;

    void on_memory_write(int cpu, GuestAddr pc, GuestAddr addr, int size) override;

  private:
    Machine& m_machine;
    std::set<GuestAddr> m_reported;
};

} // namespace klpemu::emu
