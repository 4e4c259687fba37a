// Where every task stack of the machine ends, as seed-v4 recognises it: Torsten Duwe's v4
// "Properly detect the bottom of kthread stacks, by setting a global symbol to the address where
// their LR points to and compare against it", generalised to every call the machine's bottom
// functions make (ret_from_fork for kthreads, el0_svc_loop for user tasks, cpu_idle for the idle
// tasks: emu/guest/sched.S). One derivation for every walker (the reliability checker, the
// livepatch transition's TaskWalker, the ftrace stacktrace tracer, the debugger's `bt`), so the
// same policy gives the same verdict everywhere.
#pragma once

#include "emu/guest_addr.h"
#include "emu/symbol_table.h"
#include "unwinder/stack_view.h"

#include <array>
#include <string_view>
#include <vector>

namespace klpemu::unwinder {

inline constexpr std::array<std::string_view, 3> kBottomFunctions = {"ret_from_fork", "el0_svc_loop",
                                                                     "cpu_idle"};

// Appends the return address of every BL/BLR inside function `name` (none if it is unknown).
void collect_call_returns(const SymbolTable& symbols, const MemoryReader& memory,
                          std::string_view name, std::vector<GuestAddr>& out);

// collect_call_returns over kBottomFunctions: StackView::bottom_return_addresses.
std::vector<GuestAddr> bottom_return_addresses(const SymbolTable& symbols,
                                               const MemoryReader& memory);

} // namespace klpemu::unwinder
