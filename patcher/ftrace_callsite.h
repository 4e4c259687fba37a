// The arm64 ftrace call-site state machine (reference §1) as pure builders of TextPatch
// values; nothing here writes. A site compiled with -fpatchable-function-entry goes
//
//   compiled:     nop           ; nop
//   initialised:  mov x9, x30   ; nop              ftrace_init_nop (once, before it can run)
//   enabled:      mov x9, x30   ; bl <callable>    ftrace_make_call
//   retargeted:   mov x9, x30   ; bl <other>       ftrace_modify_call (CALL_OPS)
//   disabled:     mov x9, x30   ; nop              ftrace_make_nop
//
// With CALL_OPS the 8-byte literal before the function is rewritten before each BL change.
// A branch generator that cannot reach its target returns BRK #0x100 (AARCH64_BREAK_FAULT);
// the builders return an error instead and say how far out of range the target is.
#pragma once

#include "emu/image.h"
#include "emu/insn_word.h"
#include "emu/result.h"
#include "patcher/text_patch.h"

namespace klpemu::patcher {

// AARCH64_BREAK_FAULT: what aarch64_insn_gen_branch_imm returns on failure.
inline constexpr InsnWord kBreakFault{0xd4202000}; // brk #0x100
inline constexpr InsnWord kMovX9X30{0xaa1e03e9};   // mov x9, x30
inline constexpr InsnWord kNop{0xd503201f};        // nop

// ftrace_init_nop: the first NOP becomes MOV X9, X30 (checks the NOP).
TextPatch init_nop_patch(const PatchSite& site);

// ftrace_make_call: rec->ip NOP -> BL `target`; error if `target` is beyond BL reach.
Result<TextPatch> make_call_patch(const PatchSite& site, GuestAddr target);

// ftrace_make_nop: rec->ip BL `target` -> NOP (the old BL is rebuilt and checked).
Result<TextPatch> make_nop_patch(const PatchSite& site, GuestAddr target);

// ftrace_modify_call: rec->ip BL `old_target` -> BL `new_target`.
Result<TextPatch> modify_call_patch(const PatchSite& site, GuestAddr old_target,
                                    GuestAddr new_target);

// The patch a kernel without the out-of-range check would have made: NOP -> BRK #0x100.
TextPatch break_fault_patch(const PatchSite& site);

} // namespace klpemu::patcher
