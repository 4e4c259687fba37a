// TextPatch: one change to guest text as a value, before anything is written (style.md §9).
// The kernel's ftrace_modify_code(pc, old, new, validate) is exactly this triple: read the word
// at pc, refuse unless it is `old`, write `new`. Builders in ftrace_callsite.h return these;
// TextPoke::apply is the only code that turns one into a write.
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"

namespace klpemu::patcher {

// Why a word is being written: decides which rules apply (the MOV X9 slot may only be written
// before its code has run; a live write must keep both words in the CMODX set).
enum class PatchPurpose {
    InitMovSlot, // ftrace_init_nop: NOP -> MOV X9, X30 (before the code can run).
    CallSite,    // ftrace_make_call / ftrace_make_nop / ftrace_modify_call: NOP <-> BL.
    TracerCall,  // ftrace_update_ftrace_func: the `bl` at the trampoline's ftrace_call label;
                 // ftrace_modify_graph_caller: ftrace_graph_call's NOP <-> B (<= v5.19).
    Other,       // Anything else (tests, deliberately unsafe patches).
};

struct TextPatch {
    GuestAddr pc;          // 4-byte aligned.
    InsnWord expected_old; // The word that must be there now.
    InsnWord new_word;     // The word to write.
    PatchPurpose purpose = PatchPurpose::Other;

    constexpr bool operator==(const TextPatch&) const = default;
};

} // namespace klpemu::patcher
