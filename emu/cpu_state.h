// CpuState: the architectural register state of one AArch64 CPU as a value (style.md §7).
// Snapshots, golden checks, the IRQ-at-every-instruction test and the ABI checker compare
// CpuStates with operator== and print diff(). Only the general-purpose view the kernel's
// pt_regs holds is modelled: x0-x30, sp, pc and pstate (NZCV plus mode bits).
#pragma once

#include "emu/guest_addr.h"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace klpemu::emu {

struct CpuState {
    std::array<uint64_t, 31> x{}; // x0..x30 (x29 = fp, x30 = lr).
    uint64_t sp = 0;
    uint64_t pc = 0;
    uint64_t pstate = 0; // NZCV in bits 31:28, DAIF 9:6, EL/SP select 3:0 (SPSR layout).

    uint64_t fp() const { return x[29]; }
    uint64_t lr() const { return x[30]; }

    bool operator==(const CpuState&) const = default;

    // One line per register that differs from `other`: "x19: 0x1 != 0x2".
    std::vector<std::string> diff(const CpuState& other) const;

    // Register `index` in register_name order (x0..x30, sp, pc, pstate).
    uint64_t reg(int index) const;
    // For each register of `which` (register_name indices) whose value here differs from
    // `expected`'s, "x19 0xdead (expected 0x1)": what a check that a register was preserved
    // reports.
    std::vector<std::string> changed(const CpuState& expected, std::span<const int> which) const;
};

// The registers a frame-record walk starts from (x29, x30, sp), read in one call by observers
// that look at every instruction boundary (Machine::frame_regs).
struct FrameRegs {
    uint64_t sp = 0;
    uint64_t fp = 0; // x29
    uint64_t lr = 0; // x30

    bool operator==(const FrameRegs&) const = default;
};

// Name of register index 0..33 in the order x0..x30, sp, pc, pstate.
std::string register_name(int index);

// The callee-saved registers of AAPCS64 (x19-x28, fp, lr is not callee-saved but returns
// through it) plus sp: what a called function must give back unchanged.
bool callee_saved_equal(const CpuState& a, const CpuState& b);

} // namespace klpemu::emu
