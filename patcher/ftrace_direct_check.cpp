// The direct trampolines' calling-convention check (see ftrace_direct_check.h).
#include "patcher/ftrace_direct_check.h"

#include <fmt/format.h>

#include <array>

namespace klpemu::patcher {

namespace {

// What the traced function must find as its call site left it: x0-x8, x18-x29, SP.
constexpr std::array<int, 22> kDirectPreserved = {0,  1,  2,  3,  4,  5,  6,  7,  8,  18, 19,
                                                  20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31};

} // namespace

FtraceDirectCheck::FtraceDirectCheck(emu::Machine& machine, IsTarget is_target,
                                     IsDirectEntry is_direct_entry)
    : m_machine(machine), m_is_target(std::move(is_target)),
      m_is_direct_entry(std::move(is_direct_entry)) {
    m_machine.add_observer(this);
}

FtraceDirectCheck::~FtraceDirectCheck() {
    m_machine.remove_observer(this);
}

void FtraceDirectCheck::on_instruction(const emu::InsnEvent& ev) {
    if (!m_active) {
        return;
    }
    auto& frames = m_frames[ev.task];
    if (!frames.empty()) {
        const Frame& top = frames.back();
        const GuestAddr body(top.entry.x[30]);
        const GuestAddr parent(top.entry.x[9]);
        if (ev.instruction != top.instruction && (ev.pc == body || ev.pc == parent)) {
            const Frame frame = top;
            frames.pop_back();
            if (ev.pc == parent) {
                return; // The trampoline skipped the function: nothing to hold it to.
            }
            const emu::CpuState now = m_machine.cpu_state(ev.cpu);
            std::vector<std::string> diffs = now.changed(frame.entry, kDirectPreserved);
            if (now.x[30] != frame.entry.x[9]) {
                diffs.push_back(fmt::format("return address x30 {:#x} (expected {:#x})", now.x[30],
                                            frame.entry.x[9]));
            }
            if (!diffs.empty()) {
                const GuestAddr tramp(frame.entry.pc);
                m_machine.report("abi-clobber", Severity::Error, ev.pc, ev.cpu, ev.task,
                                 fmt::format("direct trampoline {} enters {} with {}",
                                             m_machine.symbolize(tramp).str(),
                                             m_machine.symbolize(body).str(),
                                             fmt::join(diffs, ", ")));
            }
            return;
        }
    }
    if (!m_is_target(ev.pc)) {
        return;
    }
    const uint64_t lr = m_machine.cpu_state(ev.cpu).x[30];
    if (lr < 4 || !m_is_direct_entry(ev.pc, GuestAddr(lr - 4))) {
        return;
    }
    if (!frames.empty() && frames.back().instruction == ev.instruction) {
        return; // The hook delivered twice for one instruction.
    }
    frames.push_back(Frame{m_machine.cpu_state(ev.cpu), ev.instruction});
}

} // namespace klpemu::patcher
