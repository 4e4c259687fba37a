// FpState: the AArch64 FP/SIMD register file of one CPU as a value (v0-v31, FPSR, FPCR), what
// the kernel's `struct user_fpsimd_state` holds and what gdb's org.gnu.gdb.aarch64.fpu feature
// describes. The machine does not switch it per task (klpemu's tasks run kernel code, which
// does not touch FP/SIMD outside kernel_neon_begin/end); the step debugger and the gdb stub
// read and write it for the task running on the CPU.
#pragma once

#include <array>
#include <cstdint>

namespace klpemu::emu {

// One 128-bit vector register: lo = bits 63:0 (d[0]), hi = bits 127:64 (d[1]).
struct VReg {
    uint64_t lo = 0;
    uint64_t hi = 0;

    bool operator==(const VReg&) const = default;
};

struct FpState {
    std::array<VReg, 32> v{};
    uint32_t fpsr = 0;
    uint32_t fpcr = 0;

    bool operator==(const FpState&) const = default;
};

} // namespace klpemu::emu
