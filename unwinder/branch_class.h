// The instructions that move a task's return addresses, classified once per text address: the
// ground truth's shadow stack and the checker only care whether an instruction calls (BL,
// BLR), returns (RET, RETAA/RETAB), jumps (B, BR: a tail call when the target is a function
// entry), may write memory (any store, or a trap the host may act on), or none of these.
#pragma once

#include "emu/guest_addr.h"
#include "emu/insn_word.h"

#include <cstdint>
#include <optional>
#include <unordered_map>

namespace klpemu::unwinder {

enum class BranchKind { None, Call, Ret, Jump };

struct BranchClass {
    BranchKind kind = BranchKind::None;
    std::optional<GuestAddr> target; // B/BL: the immediate target.
    uint8_t rn = 30;                 // BLR/BR/RET: the register holding the target.
    bool may_write_memory = false;   // Stores, atomics, DC ZVA, and HVC/BRK/SVC (host work).
    bool is_eret = false;            // ERET: the exception frame is already popped, IRQs masked.
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

} // namespace klpemu::unwinder
