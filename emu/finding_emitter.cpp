// The finding emitter (see finding_emitter.h).
#include "emu/finding_emitter.h"

namespace klpemu {

Finding make_finding(const SymbolTable& symbols, std::string kind, Severity severity, FindingAt at,
                     std::string message) {
    Finding f;
    f.kind = std::move(kind);
    f.severity = severity;
    if (at.pc) {
        f.where = symbols.symbolize(*at.pc).str();
    }
    f.pc = at.pc;
    f.cpu = at.cpu;
    f.task = std::move(at.task);
    f.message = std::move(message);
    f.instruction = at.instruction;
    return f;
}

} // namespace klpemu
