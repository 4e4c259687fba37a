// Findings: analysis results as data (style.md §11, §13). Every check in klpemu reports a
// Finding with a stable kind id (documented in docs/findings.md), a symbolized location and a
// message; findings are collected into reports, never printed ad hoc and never thrown.
#pragma once

#include "emu/guest_addr.h"

#include <cstdint>
#include <optional>
#include <string>

namespace klpemu {

enum class Severity { Info, Warning, Error, Fatal };

struct Finding {
    std::string kind;    // Stable id, e.g. "store-below-sp", "patched-brk", "budget-exhausted".
    Severity severity = Severity::Error;
    std::string where;   // Symbolized location, e.g. "ftrace_caller+0x8" (never a host pointer).
    std::optional<GuestAddr> pc;   // Guest PC where it was found, if any.
    std::optional<int> cpu;        // CPU index, if any.
    std::string task;              // Task name, if any.
    std::string message;           // One line, objtool style, without the location prefix.
    uint64_t instruction = 0;      // Global instruction count when it was found (the one clock).
};

inline const char* severity_name(Severity s) {
    switch (s) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
    case Severity::Fatal: return "fatal";
    }
    return "?";
}

} // namespace klpemu
