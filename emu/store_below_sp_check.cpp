// The store-below-sp check (see store_below_sp_check.h).
#include "emu/store_below_sp_check.h"

#include "emu/insn_word.h"

#include <fmt/format.h>

#include <cstring>
#include <optional>

namespace klpemu::emu {

namespace {

// The SP a store leaves behind when it is a pre-indexed store with SP as the base (`stp x29,
// x30, [sp, #-16]!`): the hook sees the old SP, but the store lands at and above the new one.
// Nullopt for every other instruction.
std::optional<uint64_t> sp_after_pre_indexed_store(InsnWord w, uint64_t sp) {
    const uint32_t x = w.raw;
    const uint32_t rn = (x >> 5) & 0x1f;
    if (rn != 31) {
        return std::nullopt;
    }
    // STP/STNP class, pre-indexed, L = 0: opc 101 V 011 0 imm7 Rt2 Rn Rt.
    if ((x & 0x3bc00000) == 0x29800000) {
        const uint32_t opc = x >> 30;
        const bool simd = (x >> 26) & 1;
        const int64_t scale = simd ? (int64_t(4) << opc) : (int64_t(4) << (opc >> 1));
        const int64_t imm7 = int64_t(int32_t(x << 10) >> 25);
        return sp + uint64_t(imm7 * scale);
    }
    // STR (immediate), pre-indexed: size 111 V 00 opc(00) 0 imm9 11 Rn Rt.
    if ((x & 0x3be00c00) == 0x38000c00) {
        const int64_t imm9 = int64_t(int32_t(x << 11) >> 23);
        return sp + uint64_t(imm9);
    }
    return std::nullopt;
}

// True for a store through sp (Rn = 31) that cannot land below the sp the check compares with:
// an unsigned offset, a non-negative signed one, or writeback (pre-index: sp becomes the
// address; post-index: the store is at the old sp). These are nearly all stack stores, and
// they need no register read. Everything else (negative offsets, other base registers, other
// store forms) is decided from sp.
bool stores_at_or_above_sp(InsnWord w) {
    const uint32_t x = w.raw;
    if (((x >> 5) & 0x1f) != 31) {
        return false;
    }
    // Store pair, GPR or SIMD: opc 101 V 0 type(2) L=0 imm7 Rt2 Rn Rt.
    if ((x & 0x3a400000) == 0x28000000) {
        const uint32_t type = (x >> 23) & 3; // 00 no-allocate, 01 post, 10 offset, 11 pre.
        return type == 1 || type == 3 || ((x >> 21) & 1) == 0; // imm7's sign bit.
    }
    // STR/STRB/STRH (GPR, opc 00), unsigned 12-bit offset: size 111 0 01 00 imm12 Rn Rt.
    if ((x & 0x3fc00000) == 0x39000000) {
        return true;
    }
    // The same with a 9-bit immediate: size 111 0 00 00 0 imm9 mode Rn Rt.
    if ((x & 0x3fe00000) == 0x38000000) {
        const uint32_t mode = (x >> 10) & 3; // 00 unscaled (STUR), 01 post, 10 STTR, 11 pre.
        return mode == 1 || mode == 3 || (mode == 0 && ((x >> 20) & 1) == 0);
    }
    return false;
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
    const uint8_t* word = m_machine.memory().host_ptr(pc, sizeof(uint32_t));
    uint32_t raw = 0;
    if (word != nullptr) {
        std::memcpy(&raw, word, sizeof raw);
        if (stores_at_or_above_sp(InsnWord(raw))) {
            return;
        }
    }
    uint64_t sp = m_machine.frame_regs(cpu).sp; // Three registers, not the whole state.
    if (word != nullptr) {
        sp = sp_after_pre_indexed_store(InsnWord(raw), sp).value_or(sp);
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
