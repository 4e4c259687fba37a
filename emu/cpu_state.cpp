// CpuState comparison and printing (see cpu_state.h).
#include "emu/cpu_state.h"

#include "emu/check.h"

#include <fmt/format.h>

namespace klpemu::emu {

std::string register_name(int index) {
    if (index < 29) {
        return fmt::format("x{}", index);
    }
    switch (index) {
    case 29: return "x29";
    case 30: return "x30";
    case 31: return "sp";
    case 32: return "pc";
    case 33: return "pstate";
    default: return "?";
    }
}

std::vector<std::string> CpuState::diff(const CpuState& other) const {
    std::vector<std::string> out;
    auto add = [&](int i, uint64_t a, uint64_t b) {
        if (a != b) {
            out.push_back(fmt::format("{}: {:#x} != {:#x}", register_name(i), a, b));
        }
    };
    for (int i = 0; i < 31; ++i) {
        add(i, x[size_t(i)], other.x[size_t(i)]);
    }
    add(31, sp, other.sp);
    add(32, pc, other.pc);
    add(33, pstate, other.pstate);
    return out;
}

uint64_t CpuState::reg(int index) const {
    if (index >= 0 && index < 31) {
        return x[size_t(index)];
    }
    switch (index) {
    case 31:
        return sp;
    case 32:
        return pc;
    case 33:
        return pstate;
    default:
        break;
    }
    KLP_CHECK(false, "no register with index {}", index);
    return 0;
}

std::vector<std::string> CpuState::changed(const CpuState& expected,
                                           std::span<const int> which) const {
    std::vector<std::string> out;
    for (const int i : which) {
        if (reg(i) != expected.reg(i)) {
            out.push_back(fmt::format("{} {:#x} (expected {:#x})", register_name(i), reg(i),
                                      expected.reg(i)));
        }
    }
    return out;
}

bool callee_saved_equal(const CpuState& a, const CpuState& b) {
    for (size_t i = 19; i <= 29; ++i) {
        if (a.x[i] != b.x[i]) {
            return false;
        }
    }
    return a.sp == b.sp;
}

} // namespace klpemu::emu
