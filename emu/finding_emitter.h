// The one way a Finding is built (objtool's WARN_FUNC, mold's Error(ctx)): the caller says what
// (kind, severity, message) and where it stands (PC, CPU, task, clock); the emitter fills in the
// symbolized location the same way for every layer, so a finding from the machine, the patcher
// or the unwinder reads alike in every report. Machine::report is the emitter bound to a
// machine (its symbols, clock and tasks); layers without a machine (TextPoke, the unwinder's
// checkers) call make_finding with their own symbol table and clock.
#pragma once

#include "emu/finding.h"
#include "emu/guest_addr.h"
#include "emu/symbol_table.h"

#include <cstdint>
#include <optional>
#include <string>

namespace klpemu {

// Where and when a finding happened.
struct FindingAt {
    std::optional<GuestAddr> pc; // Symbolized into Finding::where when set.
    std::optional<int> cpu;
    std::string task;         // Task name; empty if none.
    uint64_t instruction = 0; // The global clock.
};

// Builds a finding: `where` is `pc` symbolized (`func+0x1c`), everything else as given.
Finding make_finding(const SymbolTable& symbols, std::string kind, Severity severity, FindingAt at,
                     std::string message);

} // namespace klpemu
