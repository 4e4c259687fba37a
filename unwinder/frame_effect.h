// What one instruction does to sp, x29 and x30, exactly, for the forms that change them most
// often: calls (BL, BLR), frame set-up and tear-down (`stp x29, x30, [sp, #-N]!`,
// `mov x29, sp`, `ldp x29, x30, [sp], #N`) and stack adjustment (`sub sp, sp, #N`, pushes and
// pops of other registers with writeback). The per-step checker keeps a copy of the three
// registers per CPU; with these effects it updates the copy itself instead of reading the
// registers back from Unicorn after every such instruction (a batch register read costs more
// than the rest of a memoised check). Everything else that may write them is Unknown: the
// copy is read again. Arm ARM C4.1 (ADD/SUB immediate, load/store pair, load/store register
// pre-/post-index, BL/BLR).
#pragma once

#include "emu/cpu_state.h"
#include "emu/guest_addr.h"
#include "emu/insn_word.h"

#include <cstdint>
#include <optional>

namespace klpemu::unwinder {

class MemoryReader;

enum class FrameOp : uint8_t {
    None,     // Writes none of sp, x29, x30.
    Unknown,  // May write them in a way not modelled here: read them back.
    Link,     // x30 = pc + 4 (BL, BLR).
    SpAdd,    // sp += delta (ADD/SUB sp, sp, #imm; writeback on sp of what loads no x29/x30).
    FpFromSp, // x29 = sp + delta (ADD/SUB x29, sp, #imm; MOV x29, sp).
    SpFromFp, // sp = x29 + delta (ADD/SUB sp, x29, #imm; MOV sp, x29).
    LoadFpLr, // x29, x30 = the two words at old sp + offset; then sp += delta (LDP x29, x30, [sp..]).
};

struct FrameEffect {
    FrameOp op = FrameOp::Unknown;
    int64_t delta = 0;  // SpAdd, FpFromSp, SpFromFp, LoadFpLr: added to sp / to the source.
    int64_t offset = 0; // LoadFpLr: the load address relative to sp before the instruction.

    bool operator==(const FrameEffect&) const = default;
};

// The effect of `word` (pure). None exactly when may_write_frame_regs(word) is false.
FrameEffect frame_effect(InsnWord word);

// LoadFpLr's half of apply_frame_effect (reads guest memory).
std::optional<emu::FrameRegs> apply_load_fp_lr(const FrameEffect& e, const emu::FrameRegs& before,
                                               const MemoryReader& memory);

// The registers after the instruction at `pc` with effect `e` ran with `before`; nullopt for
// Unknown or when a LoadFpLr's words cannot be read. `memory` must hold what the load read
// (the caller applies the effect before anything else may have written there). Inline: the
// checker applies one at every few boundaries.
inline std::optional<emu::FrameRegs> apply_frame_effect(const FrameEffect& e, GuestAddr pc,
                                                        const emu::FrameRegs& before,
                                                        const MemoryReader& memory) {
    emu::FrameRegs r = before;
    switch (e.op) {
    case FrameOp::None: return r;
    case FrameOp::Unknown: return std::nullopt;
    case FrameOp::Link: r.lr = (pc + 4).value; return r;
    case FrameOp::SpAdd: r.sp = before.sp + uint64_t(e.delta); return r;
    case FrameOp::FpFromSp: r.fp = before.sp + uint64_t(e.delta); return r;
    case FrameOp::SpFromFp: r.sp = before.fp + uint64_t(e.delta); return r;
    case FrameOp::LoadFpLr: return apply_load_fp_lr(e, before, memory);
    }
    return std::nullopt;
}

} // namespace klpemu::unwinder
