// The front door of klpemu's unwinder layer (design.md §5): models of arm64 stack unwinders
// judged against a ground truth at every instruction boundary.
//
//   make_policy("fp-naive" | "seed-v4" | "kunwind" | "cfi")   unwind_policy.h: one unwinder
//   StackView::interrupted / ::blocked                        stack_view.h: what it sees
//   MachineChecker(machine, config, cfi)                      machine_checker.h: per-step checks
//                                                             on a running machine; findings
//                                                             `unsound-reliable-trace`,
//                                                             `shadow-stack-mismatch`
//   TaskWalker(machine, policy, cfi)                          task_walker.h: answers
//                                                             emu::StackWalker for livepatch
//   CfiTable (emu/cfi_table.h)                                the cfi policy's input, from
//                                                             LoadedObject::cfi
//   bottom_return_addresses(symbols, memory)                  stack_bottoms.h: seed-v4's
//                                                             kthread bottom, for any walker
#pragma once

#include "unwinder/machine_checker.h"
#include "unwinder/stack_bottoms.h"
#include "unwinder/task_walker.h"
#include "unwinder/unwind_policy.h"
