// `bt`: the heart of the step debugger. For the focused task it asks every unwinder policy for
// a trace from exactly the start point the kernel would use now, and prints each beside the
// ground truth (the shadow stack the reliability checker keeps from what really executed):
//
//   running task   the interrupted view: a virtual pt_regs at sp - 336, as an IRQ taken before
//                  this instruction would build it (what the per-step check asks at every
//                  boundary, and what klp_try_switch_task() meets for a task it interrupted)
//   sleeping task  the blocked view from its saved context (thread_saved_pc/fp), what
//                  stack_trace_save_tsk_reliable() walks when livepatch tries to switch it
//
// Each policy gets a verdict: "reliable, correct"; "reliable, WRONG" with the first return
// address it misses or invents (a soundness violation: livepatch would switch a task it must
// not); or "unreliable" with its reason (livepatch would retry later). Engines attached to the
// machine (livepatch) add their own lines, e.g. what klp_check_stack() decides.
#include "emu/machine.h"
#include "scenarios/unwind_check.h"
#include "tools/step_debugger.h"
#include "tools/step_text.h"
#include "unwinder/branch_class.h"
#include "unwinder/unwinder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace klpemu::tools {

namespace {

std::string trace_text(const emu::Machine& machine, const std::vector<GuestAddr>& list) {
    std::string out;
    for (const GuestAddr a : list) {
        out += out.empty() ? "" : " <- ";
        out += machine.symbolize(a).str();
    }
    return out.empty() ? "(empty)" : out;
}

// The first way `trace` differs from `truth`, in words.
std::string difference(const emu::Machine& machine, const std::vector<GuestAddr>& trace,
                       const std::vector<GuestAddr>& truth) {
    for (const GuestAddr a : truth) {
        if (std::find(trace.begin(), trace.end(), a) == trace.end()) {
            return fmt::format("misses {}", machine.symbolize(a).str());
        }
    }
    for (const GuestAddr a : trace) {
        if (std::find(truth.begin(), truth.end(), a) == truth.end()) {
            return fmt::format("has {}, which is not on the stack", machine.symbolize(a).str());
        }
    }
    return "lists the right return addresses in the wrong order";
}

// A policy's reason with code addresses symbolized (stack addresses stay hex): "REGS_PC
// leaf+0x4" reads better and stays the same when unrelated guest code moves.
std::string symbolize_text(const emu::Machine& machine, const std::string& text) {
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        if (text.compare(i, 2, "0x") == 0) {
            size_t j = i + 2;
            while (j < text.size() && std::isxdigit(static_cast<unsigned char>(text[j]))) {
                ++j;
            }
            const uint64_t v = std::strtoull(text.substr(i + 2, j - i - 2).c_str(), nullptr, 16);
            if (j > i + 2 && machine.symbols().function_at(GuestAddr(v))) {
                out += machine.symbolize(GuestAddr(v)).str();
            } else {
                out.append(text, i, j - i);
            }
            i = j;
            continue;
        }
        out += text[i++];
    }
    return out;
}

} // namespace

std::string Debugger::view_backtrace(std::string_view args) const {
    int task = focus_task();
    if (!trim(args).empty()) {
        auto t = parse_task(trim(args));
        if (!t) {
            return fmt::format("error: bt: {}\n", t.error().message);
        }
        task = *t;
    }
    if (task < 0) {
        return "error: bt: no task in focus yet (stepi, or bt TASK)\n";
    }
    const auto access = m_session->access();
    const emu::Machine& machine = *access.machine;
    const emu::Task& t = machine.task(task);
    if (t.finished()) {
        return fmt::format("bt {}: the task has exited\n", t.name);
    }
    bool live = false;
    const emu::CpuState regs = task_registers(task, &live);
    const unwinder::MachineMemory memory(machine.memory());
    const std::vector<unwinder::KnownStack> stacks{
        unwinder::KnownStack{unwinder::StackKind::Task, t.stack}};
    const unwinder::Registers start{GuestAddr(regs.pc), GuestAddr(regs.x[30]),
                                    GuestAddr(regs.x[29]), GuestAddr(regs.sp)};
    unwinder::StackView view =
        live ? unwinder::StackView::interrupted(start, memory, stacks, t.pt_regs)
             : unwinder::StackView::blocked(start, memory, stacks, t.pt_regs);
    const std::vector<GuestAddr> bottoms =
        unwinder::bottom_return_addresses(machine.symbols(), memory);
    view.bottom_return_addresses = bottoms;
    if (auto rth = machine.symbols().lookup("return_to_handler")) {
        view.return_to_handler = rth->addr;
    }
    const unwinder::GroundTruth* truth = nullptr;
    if (access.unwind != nullptr) {
        view.graph = access.unwind->graph_stack(task);
        view.cfi = &access.unwind->cfi();
        truth = access.unwind->checker().truth(task);
    }

    std::string out;
    if (live) {
        out += fmt::format("bt {}: interrupted at {} on cpu{} (the view an IRQ here would give)\n",
                           t.name, machine.symbolize(GuestAddr(regs.pc)).str(), t.cpu);
    } else {
        out += fmt::format("bt {}: {} at {}, from its saved context (the view livepatch walks)\n",
                           t.name, t.state == emu::TaskState::Blocked ? "blocked" : "switched out",
                           machine.symbolize(GuestAddr(regs.pc)).str());
    }
    std::vector<GuestAddr> truth_list;
    bool truth_complete = false;
    if (truth != nullptr) {
        truth->return_addresses(GuestAddr(regs.pc), truth_list);
        truth_complete = truth->complete();
        std::string state = truth_complete ? "complete" : "incomplete";
        out +=
            fmt::format("  {:<9}  {:<20}  {}\n", "truth", state, trace_text(machine, truth_list));
        if (live && truth->exception_depth() > 0) {
            out += fmt::format("  {:<9}  the task is inside {} exception(s): an IRQ here nests\n",
                               "", truth->exception_depth());
        }
    } else {
        out += "  truth      (no ground truth: the task has not run under the checker yet)\n";
    }
    for (const std::string_view name : unwinder::policy_names()) {
        const auto policy = unwinder::make_policy(name);
        const unwinder::UnwindResult r = policy->unwind(view);
        std::string verdict;
        std::string detail;
        if (!r.reliable) {
            verdict = truth_complete ? "unreliable, refused" : "unreliable";
            detail = fmt::format("reason: {}", symbolize_text(machine, r.reason));
        } else if (!truth_complete) {
            verdict = "reliable (not judged)";
        } else if (r.return_addresses == truth_list) {
            verdict = "reliable, correct";
        } else {
            verdict = "reliable, WRONG";
            detail = difference(machine, r.return_addresses, truth_list);
        }
        out += fmt::format("  {:<9}  {:<20}  {}\n", name, verdict,
                           trace_text(machine, r.return_addresses));
        if (!detail.empty()) {
            out += fmt::format("  {:<9}  {}\n", "", detail);
        }
    }
    for (const emu::DebugView* v : machine.debug_views()) {
        for (const auto& line : v->stack_lines(task)) {
            out += fmt::format("  {}: {}\n", v->name(), line);
        }
    }
    return out;
}

std::string Debugger::cmd_bt(std::string_view args) {
    return view_backtrace(args);
}

} // namespace klpemu::tools
