// See debug_view.h. Mirrors Livepatch::try_switch_task / check_stack / chosen_func without
// their side effects (no task switched, no log line, no finding).
#include "patcher/livepatch/debug_view.h"

#include "patcher/livepatch/livepatch.h"
#include "patcher/livepatch/model.h"

#include <fmt/format.h>

namespace klpemu::patcher::livepatch {

namespace {

const char* direction(emu::PatchState target) {
    return target == emu::PatchState::Patched ? "patching" : "unpatching";
}

} // namespace

uint64_t LivepatchDebugView::transition_events() const {
    return m_engine.m_transition_events;
}

std::string LivepatchDebugView::last_transition_event() const {
    return m_engine.m_last_transition_event;
}

std::string LivepatchDebugView::switch_verdict(int task, std::string* trace) const {
    const Livepatch& e = m_engine;
    const emu::Task& t = e.m_machine.task(task);
    if (t.patch_state == e.m_target) {
        return fmt::format("switched to {}", emu::patch_state_name(e.m_target));
    }
    if (!e.m_options.reliable_stacktrace) {
        return "waits: no reliable stacktrace (switches at return to user or by force)";
    }
    if (t.finished()) {
        return "would switch: finished";
    }
    if (t.state == emu::TaskState::Running && task != e.m_current_task) {
        const char* idle = t.kind == emu::TaskKind::Idle ? "; switches in do_idle" : "";
        return fmt::format("would refuse: running on cpu{} (-EBUSY){}", t.cpu, idle);
    }
    if (e.m_stacks == nullptr) {
        return "would refuse: no unwinder attached (-EINVAL)";
    }
    emu::StackWalkResult walk;
    if (task == e.m_current_task) {
        // The transition's own caller walks itself (see Livepatch::check_stack).
        auto truth = e.m_stacks->true_stack(task);
        walk.reliable = truth.has_value();
        walk.entries = truth.value_or(std::vector<GuestAddr>{});
    } else {
        walk = e.m_stacks->save_task_reliable(task);
    }
    if (trace != nullptr) {
        *trace =
            fmt::format("{} {}: {}", e.m_stacks->policy(),
                        walk.reliable ? "reliable" : "unreliable", e.symbolize_list(walk.entries));
    }
    if (!walk.reliable) {
        return fmt::format("would refuse: unreliable stack (-EINVAL): {}", walk.reason);
    }
    std::string old_name;
    if (e.stack_holds_patched(walk.entries, &old_name)) {
        return fmt::format("would refuse: sleeping on {} (-EADDRINUSE)", old_name);
    }
    return "would switch: stack clean";
}

std::vector<std::string> LivepatchDebugView::handler_choices(int task) const {
    const Livepatch& e = m_engine;
    const emu::Task& t = e.m_machine.task(task);
    std::vector<std::string> out;
    for (const auto& [addr, ops] : e.m_ops) {
        const Livepatch::Func* f = e.chosen_func(*ops, t.patch_state);
        out.push_back(fmt::format("a call to {} runs {}", e.m_machine.symbolize(addr).str(),
                                  f ? e.m_machine.symbolize(f->new_func).str()
                                    : std::string("the original")));
    }
    return out;
}

std::string LivepatchDebugView::task_note(int task) const {
    const Livepatch& e = m_engine;
    if (e.m_transition_patch == nullptr || task < 0 || task >= e.m_machine.task_count()) {
        return {};
    }
    const emu::Task& t = e.m_machine.task(task);
    if (t.finished()) {
        return {}; // Gone from the task list the transition walks.
    }
    return switch_verdict(task, nullptr);
}

std::vector<std::string> LivepatchDebugView::patch_lines() const {
    const Livepatch& e = m_engine;
    const emu::Machine& m = e.m_machine;
    std::vector<std::string> out;
    if (e.m_patches.empty()) {
        out.push_back("no patch registered");
    }
    for (const auto& p : e.m_patches) {
        out.push_back(fmt::format("patch '{}': {}{}{}", p->mod_name,
                                  p->enabled ? "enabled" : "disabled",
                                  p->replace ? ", replace" : "", p->forced ? ", forced" : ""));
        for (const auto& obj : p->objs) {
            for (const auto& f : obj->funcs) {
                out.push_back(
                    fmt::format("  {}:{} {} -> {}{}{}", obj->display(), f->old_name,
                                m.symbolize(f->old_func).str(),
                                f->nop ? std::string("nop") : m.symbolize(f->new_func).str(),
                                f->patched ? ", patched" : ", not patched",
                                f->transition ? ", in transition" : ""));
            }
        }
    }
    for (const auto& [addr, ops] : e.m_ops) {
        std::string stack;
        for (const Livepatch::Func* f : ops->func_stack) {
            stack += f->nop ? std::string("nop") : m.symbolize(f->new_func).str();
            stack += " <- ";
        }
        out.push_back(fmt::format("func stack of {}: {}original", m.symbolize(addr).str(), stack));
    }
    if (e.m_transition_patch == nullptr) {
        out.push_back("transition: none");
        return out;
    }
    int pending = 0, total = 0;
    for (int id = 0; id < m.task_count(); ++id) {
        const emu::Task& t = m.task(id);
        if (t.finished()) {
            continue;
        }
        ++total;
        pending += t.patch_state != e.m_target ? 1 : 0;
    }
    const emu::PatchState from = e.m_target == emu::PatchState::Patched ? emu::PatchState::Unpatched
                                                                        : emu::PatchState::Patched;
    out.push_back(fmt::format("transition: '{}' {} ({} -> {}), {} of {} live tasks not switched",
                              e.m_transition_patch->mod_name, direction(e.m_target),
                              emu::patch_state_name(from), emu::patch_state_name(e.m_target),
                              pending, total));
    if (e.m_work_at != UINT64_MAX) {
        out.push_back(
            fmt::format("  next try (klp_transition_work_fn) at instruction {}", e.m_work_at));
    }
    for (int id = 0; id < m.task_count(); ++id) {
        const emu::Task& t = m.task(id);
        if (t.finished()) {
            continue;
        }
        std::string choices;
        for (const auto& c : handler_choices(id)) {
            choices += choices.empty() ? "" : "; ";
            choices += c;
        }
        out.push_back(fmt::format("  {:>3} {} ({}{}): {}", id, t.name,
                                  emu::patch_state_name(t.patch_state),
                                  t.tif_patch_pending ? ", TIF_PATCH_PENDING" : "", choices));
    }
    return out;
}

std::vector<std::string> LivepatchDebugView::stack_lines(int task) const {
    const Livepatch& e = m_engine;
    if (task < 0 || task >= e.m_machine.task_count() || e.m_ops.empty()) {
        return {};
    }
    const emu::Task& t = e.m_machine.task(task);
    std::vector<std::string> out;
    out.push_back(fmt::format("patch_state {}{}", emu::patch_state_name(t.patch_state),
                              t.tif_patch_pending ? ", TIF_PATCH_PENDING" : ""));
    if (e.m_transition_patch != nullptr) {
        std::string trace;
        const std::string verdict = switch_verdict(task, &trace);
        out.push_back(fmt::format("klp_try_switch_task now: {}", verdict));
        if (!trace.empty()) {
            out.push_back(fmt::format("  walked by {}", trace));
        }
    }
    for (auto& c : handler_choices(task)) {
        out.push_back(std::move(c));
    }
    return out;
}

} // namespace klpemu::patcher::livepatch
