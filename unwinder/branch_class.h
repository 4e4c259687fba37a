// The instructions that move a task's return addresses, classified once per text address: the
// ground truth's shadow stack and the checker only care whether an instruction calls (BL,
// BLR), returns (RET, RETAA/RETAB), jumps (B, BR: a tail call when the target is a function
// entry), may write memory (any store, or a trap the host may act on), or none of these. For the
// incremental checker it also says, conservatively, whether the instruction may change sp, x29
// or x30, and where a store writes (base register, offset, a superset of the bytes written).
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"
#include "unwinder/frame_effect.h"

#include <cstdint>
#include <optional>
#include <unordered_map>

namespace klpemu::unwinder {

enum class BranchKind { None, Call, Ret, Jump };

// Where a store writes, from its encoding; the checker reads the registers at the boundary.
//   Offset     [Xn + imm, Xn + imm + size)      (unsigned/unscaled offset, pre-index, pairs)
//   Base       [Xn, Xn + size)                  (post-index, exclusives, atomics, structures)
//   RegOffset  [Xn + (ext(Xm) << shift), +size) (register offset)
//   Unknown    anywhere (DC ZVA, tag stores, encodings not decoded here)
enum class StoreMode : uint8_t { None, Offset, Base, RegOffset, Unknown };

struct StoreAccess {
    StoreMode mode = StoreMode::None;
    uint8_t rn = 0;     // Base register; 31 = sp.
    uint8_t rm = 0;     // RegOffset: index register; 31 = xzr.
    uint8_t option = 3; // RegOffset: 2 UXTW, 3 LSL/UXTX, 6 SXTW, 7 SXTX.
    uint8_t shift = 0;  // RegOffset: left shift of the extended index.
    uint8_t size = 0;   // Bytes written, rounded up (never fewer than the store writes).
    int64_t imm = 0;    // Offset: byte offset.
};

struct BranchClass {
    BranchKind kind = BranchKind::None;
    std::optional<GuestAddr> target; // B/BL: the immediate target.
    uint8_t rn = 30;                 // BLR/BR/RET: the register holding the target.
    bool may_write_memory = false;   // Stores, atomics, DC ZVA, and HVC/BRK/SVC (host work).
    bool is_eret = false;            // ERET: the exception frame is already popped, IRQs masked.
    FrameEffect frame;               // Its effect on sp, x29 and x30 (frame_effect.h).
    StoreAccess store;               // Where a store writes (mode None for everything else).

    // May change sp, x29 or x30 (false only when certain: may_write_frame_regs).
    bool writes_frame_regs() const { return frame.op != FrameOp::None; }
};

// Classifies one instruction word at `pc` (pure function).
BranchClass classify(GuestAddr pc, InsnWord word);

// classify() with a per-address cache that notices when the word at an address changed.
class BranchClassCache {
  public:
    const BranchClass& get(GuestAddr pc, InsnWord word);

  private:
    struct Entry {
        InsnWord word;
        BranchClass cls;
    };
    std::unordered_map<GuestAddr, Entry> m_cache;
};

// Conservative: false only when the encoding certainly leaves sp, x29 and x30 alone.
bool may_write_frame_regs(InsnWord word);

// Where the store `word` writes; mode None if it writes no memory.
StoreAccess store_access(InsnWord word);

} // namespace klpemu::unwinder
