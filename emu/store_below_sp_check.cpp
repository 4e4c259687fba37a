// The store-below-sp check (see store_below_sp_check.h).
#include "emu/store_below_sp_check.h"

#include "emu/insn_fields.h"
#include "emu/insn_word.h"

#include <fmt/format.h>

#include <optional>

namespace klpemu::emu {

namespace {

using a64::field;
using a64::sign_extend;

// A store through sp (Rn = 31) in a form decoded here: its lowest byte's offset from the sp the
// instruction sees, and how far it moves sp (0 without writeback). Pre-index: sp becomes the
// address; post-index: the store is at the old sp and sp moves past it.
struct SpStore {
    int64_t offset = 0;
    int64_t sp_delta = 0;
};

// STR (GPR opc 00; SIMD&FP opc x0, opc 10 being the 128-bit Q form): bits 31-30 size, 26 V,
// 23-22 opc of the load/store register classes.
bool is_single_store(uint32_t x) {
    const uint32_t opc = field(x, 22, 2);
    return field(x, 26, 1) != 0 ? (opc & 1) == 0 : opc == 0;
}

std::optional<SpStore> decode_sp_store(uint32_t x) {
    if (field(x, 5, 5) != 31) {
        return std::nullopt;
    }
    // Store pair, GPR or SIMD: opc 101 V 0 type(2) L=0 imm7 Rt2 Rn Rt.
    if ((x & 0x3a400000) == 0x28000000) {
        const uint32_t opc = field(x, 30, 2);
        const bool simd = field(x, 26, 1) != 0;
        // SIMD: 4 << opc bytes each; GPR: 4 or 8, and 16 for STGP (opc 01).
        const int64_t scale = simd       ? (int64_t(4) << opc)
                              : opc == 1 ? 16
                                         : (int64_t(4) << (opc >> 1));
        const int64_t imm = sign_extend(field(x, 15, 7), 7) * scale;
        switch (field(x, 23, 2)) { // 00 no-allocate, 01 post, 10 offset, 11 pre.
        case 1:
            return SpStore{0, imm};
        case 3:
            return SpStore{imm, imm};
        default:
            return SpStore{imm, 0};
        }
    }
    // Unsigned 12-bit offset: size 111 V 01 opc imm12 Rn Rt (never below sp).
    if ((x & 0x3b000000) == 0x39000000 && is_single_store(x)) {
        return SpStore{0, 0};
    }
    // 9-bit immediate: size 111 V 00 opc 0 imm9 mode Rn Rt.
    if ((x & 0x3b200000) == 0x38000000 && is_single_store(x)) {
        const int64_t imm = sign_extend(field(x, 12, 9), 9);
        switch (field(x, 10, 2)) { // 00 unscaled (STUR), 01 post, 10 unprivileged, 11 pre.
        case 0:
            return SpStore{imm, 0};
        case 1:
            return SpStore{0, imm};
        case 3:
            return SpStore{imm, imm};
        default:
            return std::nullopt;
        }
    }
    return std::nullopt;
}

} // namespace

StoreBelowSpCheck::StoreBelowSpCheck(Machine& machine) : m_machine(machine) {
    m_machine.add_observer(this);
}

StoreBelowSpCheck::~StoreBelowSpCheck() {
    m_machine.remove_observer(this);
}

void StoreBelowSpCheck::on_memory_write(int cpu, GuestAddr pc, GuestAddr addr, int /*size*/) {
    const int task_id = m_machine.current_task(cpu);
    const Task& task = m_machine.task(task_id);
    if (!task.stack.contains(addr)) {
        return;
    }
    // A store through sp decoded from its word needs no register: it lands below the sp it
    // leaves behind iff its offset is below its writeback (nearly every stack store). Anything
    // else compares the address with sp.
    const std::optional<InsnWord> word = m_machine.memory().insn_word(pc);
    const std::optional<SpStore> sp_store = word ? decode_sp_store(word->raw) : std::nullopt;
    uint64_t sp = 0;
    if (sp_store) {
        if (sp_store->offset >= sp_store->sp_delta) {
            return;
        }
        sp = m_machine.frame_regs(cpu).sp + uint64_t(sp_store->sp_delta); // For the message.
    } else {
        sp = m_machine.frame_regs(cpu).sp; // Three registers, not the whole state.
    }
    if (addr.value >= sp || !m_reported.insert(pc).second) {
        return;
    }
    m_machine.report("store-below-sp", Severity::Error, pc, cpu, task_id,
                     fmt::format("store to sp-{:#x} on {}'s kernel stack: an exception taken here "
                                 "would overwrite it",
                                 sp - addr.value, task.name));
}

} // namespace klpemu::emu
