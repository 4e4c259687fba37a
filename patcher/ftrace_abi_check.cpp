// The trampolines' calling-convention check (see ftrace_abi_check.h).
#include "patcher/ftrace_abi_check.h"

#include <fmt/format.h>

#include <array>

namespace klpemu::patcher {

namespace {

// What a trampoline must preserve: x0-x8 (arguments, x8 the indirect result), x18-x29, SP.
constexpr std::array<int, 22> kTrampolinePreserved = {0,  1,  2,  3,  4,  5,  6,  7,  8,  18, 19,
                                                      20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31};
// What return_to_handler must preserve: x0-x7 (the return value), x18-x29, SP.
constexpr std::array<int, 21> kGraphReturnPreserved = {0,  1,  2,  3,  4,  5,  6,  7,  18, 19, 20,
                                                       21, 22, 23, 24, 25, 26, 27, 28, 29, 31};

} // namespace

FtraceAbiCheck::FtraceAbiCheck(emu::Machine& machine, Probes probes)
    : m_machine(machine), m_probes(probes) {
    for (GuestAddr pc : {m_probes.trampoline, m_probes.trampoline_ret, m_probes.graph_entry,
                         m_probes.graph_ret, m_probes.second_entry, m_probes.direct_exit}) {
        m_probe_filter.add(pc);
    }
    m_machine.add_observer(this);
}

FtraceAbiCheck::~FtraceAbiCheck() {
    m_machine.remove_observer(this);
}

void FtraceAbiCheck::redirected(int task, std::optional<GuestAddr> new_lr,
                                std::optional<GuestAddr> new_pc) {
    auto& frames = m_frames[task];
    if (frames.empty()) {
        return;
    }
    if (new_lr) {
        frames.back().new_lr = new_lr;
    }
    if (new_pc) {
        frames.back().new_pc = new_pc;
    }
}

void FtraceAbiCheck::on_instruction(const emu::InsnEvent& ev) {
    if (!m_probe_filter.may_contain(ev.pc)) {
        return;
    }
    const bool entry = ev.pc == m_probes.trampoline ||
                       (m_probes.second_entry.value != 0 && ev.pc == m_probes.second_entry);
    const bool direct_exit = m_probes.direct_exit.value != 0 && ev.pc == m_probes.direct_exit;
    const bool probe = entry || direct_exit || ev.pc == m_probes.trampoline_ret ||
                       ev.pc == m_probes.graph_entry || ev.pc == m_probes.graph_ret;
    if (!probe) {
        return;
    }
    // A hook delivered twice for one instruction (a stop and restart at this PC) must not push
    // or pop twice.
    auto& last = m_last_probe[ev.task];
    if (last.first == ev.pc && last.second == ev.instruction) {
        return;
    }
    last = {ev.pc, ev.instruction};
    if (entry) {
        m_frames[ev.task].push_back(Frame{m_machine.cpu_state(ev.cpu), {}, {}});
    } else if (ev.pc == m_probes.trampoline_ret || direct_exit) {
        check_trampoline_exit(ev, direct_exit);
    } else if (ev.pc == m_probes.graph_entry) {
        m_graph_entries[ev.task].push_back(m_machine.cpu_state(ev.cpu));
    } else {
        check_graph_exit(ev);
    }
}

void FtraceAbiCheck::check_trampoline_exit(const emu::InsnEvent& ev, bool direct) {
    auto& frames = m_frames[ev.task];
    if (frames.empty()) {
        return;
    }
    const Frame frame = frames.back();
    frames.pop_back();
    const emu::CpuState now = m_machine.cpu_state(ev.cpu);
    const emu::CpuState& in = frame.entry;
    std::vector<std::string> diffs = now.changed(in, kTrampolinePreserved);
    auto expect = [&](std::string_view what, uint64_t got, uint64_t want) {
        if (got != want) {
            diffs.push_back(fmt::format("{} {:#x} (expected {:#x})", what, got, want));
        }
    };
    if (direct) {
        // The direct trampoline gets the call site's view: x30 the body, x9 the return address.
        expect("body x30", now.x[30], in.x[30]);
        expect("return address x9", now.x[9], frame.new_lr.value_or(GuestAddr(in.x[9])).value);
    } else {
        expect("return address x30", now.x[30], frame.new_lr.value_or(GuestAddr(in.x[9])).value);
        expect("target x9", now.x[9], frame.new_pc.value_or(GuestAddr(in.x[30])).value);
    }
    if (!diffs.empty()) {
        m_machine.report("abi-clobber", Severity::Error, ev.pc, ev.cpu, ev.task,
                         fmt::format("{} returns to {} with {}", m_probes.entry_name,
                                     m_machine.symbolize(GuestAddr(in.x[30])).str(),
                                     fmt::join(diffs, ", ")));
    }
}

void FtraceAbiCheck::check_graph_exit(const emu::InsnEvent& ev) {
    auto& entries = m_graph_entries[ev.task];
    if (entries.empty()) {
        return;
    }
    const emu::CpuState in = entries.back();
    entries.pop_back();
    const std::vector<std::string> diffs =
        m_machine.cpu_state(ev.cpu).changed(in, kGraphReturnPreserved);
    if (!diffs.empty()) {
        m_machine.report("abi-clobber", Severity::Error, ev.pc, ev.cpu, ev.task,
                         fmt::format("return_to_handler returns with {}", fmt::join(diffs, ", ")));
    }
}

} // namespace klpemu::patcher
