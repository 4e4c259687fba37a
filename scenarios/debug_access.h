// What the step debugger may look at inside a running scenario backend: the machine, the patch
// engine's parts and the reliability checker's ground truth. Pointers are null where the
// backend has no such part (a fake backend has none at all). They stay valid while the backend
// lives; the debugger reads them only while the machine is stopped.
#pragma once

namespace klpemu {
class CfiTable;
namespace emu {
class Machine;
}
namespace patcher {
class Ftrace;
class Modules;
} // namespace patcher
namespace unwinder {
class ReliabilityChecker;
}
} // namespace klpemu

namespace klpemu::scenario {

class UnwindCheck;

struct DebugAccess {
    emu::Machine* machine = nullptr;
    patcher::Ftrace* ftrace = nullptr;
    patcher::Modules* modules = nullptr;
    UnwindCheck* unwind = nullptr; // Ground truth, CFI table, graph return stacks.
};

} // namespace klpemu::scenario
