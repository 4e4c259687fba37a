// transition.c on arm64 (reference livepatch/transition.md §2-§3, arm64.md §4-§5) and the
// consistency checks judged from the ground truth (docs/findings.md):
//
//   consistency-violation  at each instruction: a task runs a version of a patched function
//                          other than the one klp_ftrace_handler would give it now
//   premature-switch       klp_try_switch_task switched a task whose true stack held a
//                          function of the transition's range
//   unsafe-force           force switched a task whose true stack was not clean (info)
//   unsound-reliable-trace a trace the transition asked for was called reliable and differs
//                          from the truth
//
// Time: the delayed work (klp_transition_work) is due one simulated second after a failed
// attempt, rounded up to a whole second of the global clock (round_jiffies_relative(HZ)).
#include "patcher/livepatch/livepatch.h"

#include "patcher/livepatch/model.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::patcher::livepatch {

namespace {

constexpr uint64_t kSignalsTimeout = 15;
constexpr size_t kMaxStackEntries = 100;
constexpr uint32_t kBtiC = 0xd503245f;

const char* direction(emu::PatchState target) {
    return target == emu::PatchState::Patched ? "patching" : "unpatching";
}

} // namespace

std::vector<emu::Task*> Livepatch::all_tasks() {
    std::vector<emu::Task*> tasks;
    for (int id = 0; id < m_machine.task_count(); ++id) {
        tasks.push_back(&m_machine.task(id));
    }
    return tasks;
}

// Findings travel with the kernel log, so that a transcript keeps them where they happened.
void Livepatch::finding(std::string kind, Severity severity, const emu::Task& task, GuestAddr pc,
                        std::string message) {
    Finding f;
    f.kind = std::move(kind);
    f.severity = severity;
    f.where = m_machine.symbolize(pc).str();
    f.pc = pc;
    f.cpu = task.cpu;
    f.task = task.name;
    f.message = std::move(message);
    f.instruction = m_machine.instructions();
    m_log.push_back(LogLine{{}, f.instruction, std::move(f)});
}

std::string Livepatch::symbolize_list(const std::vector<GuestAddr>& entries) const {
    std::string out;
    for (const GuestAddr a : entries) {
        out += out.empty() ? "" : " <- ";
        out += m_machine.symbolize(a).str();
    }
    return out;
}

void Livepatch::transition_event(std::string what) {
    ++m_transition_events;
    m_last_transition_event = std::move(what);
}

// klp_init_transition.
void Livepatch::init_transition(Patch& patch, emu::PatchState target) {
    m_transition_patch = &patch;
    m_target = target;
    pr("debug",
       fmt::format("'{}': initializing {} transition\n", patch.mod_name, direction(target)));
    const emu::PatchState initial =
        target == emu::PatchState::Patched ? emu::PatchState::Unpatched : emu::PatchState::Patched;
    for (emu::Task* t : all_tasks()) {
        t->patch_state = initial;
    }
    m_fork_parent = {initial, false};
    for (auto& obj : patch.objs) {
        for (auto& func : obj->funcs) {
            func->transition = true;
        }
    }
    write_back(patch);
    transition_event(fmt::format("'{}': {} transition initialized", patch.mod_name,
                                 direction(target)));
}

// klp_start_transition.
void Livepatch::start_transition() {
    pr("notice", fmt::format("'{}': starting {} transition\n", m_transition_patch->mod_name,
                             direction(m_target)));
    for (emu::Task* t : all_tasks()) {
        if (!t->finished() && t->patch_state != m_target) {
            t->tif_patch_pending = true;
        }
    }
    m_fork_parent.tif_patch_pending = m_fork_parent.patch_state != m_target;
    m_sched_try_switch_key = true; // klp_resched_enable
    m_signals_cnt = 0;
    transition_event(fmt::format("'{}': {} transition started", m_transition_patch->mod_name,
                                 direction(m_target)));
}

// The address ranges a task's stack must not hold (klp_check_stack_func), per direction.
bool Livepatch::stack_holds_patched(const std::vector<GuestAddr>& entries,
                                    std::string* old_name) const {
    if (!m_transition_patch) {
        return false;
    }
    for (const auto& obj : m_transition_patch->objs) {
        if (!obj->patched) {
            continue;
        }
        for (const auto& func : obj->funcs) {
            uint64_t addr = 0, size = 0;
            if (m_target == emu::PatchState::Unpatched) {
                addr = func->new_func.value;
                size = func->new_size;
            } else {
                auto it = m_ops.find(func->old_func);
                if (it == m_ops.end() || it->second->func_stack.size() <= 1) {
                    addr = func->old_func.value;
                    size = func->old_size;
                } else {
                    const auto& stack = it->second->func_stack;
                    auto pos = std::find(stack.begin(), stack.end(), func.get());
                    if (pos == stack.end() || pos + 1 == stack.end()) {
                        addr = func->old_func.value;
                        size = func->old_size;
                    } else {
                        addr = (*(pos + 1))->new_func.value;
                        size = (*(pos + 1))->new_size;
                    }
                }
            }
            for (const GuestAddr e : entries) {
                if (e.value >= addr && e.value < addr + size) {
                    if (old_name) {
                        *old_name = func->old_name;
                    }
                    return true;
                }
            }
        }
    }
    return false;
}

// klp_check_stack: stack_trace_save_tsk_reliable, then the ranges. Every trace the policy calls
// reliable is compared with the ground truth here.
int Livepatch::check_stack(emu::Task& task, std::string& old_name) {
    emu::StackWalkResult trace;
    std::optional<std::vector<GuestAddr>> truth =
        m_stacks ? m_stacks->true_stack(task.id) : std::nullopt;
    if (task.id == m_current_task) {
        // The engine's own caller walks itself (CALLER source): an intact frame chain in
        // klpemu's host-call path, so its truth is its trace.
        trace.reliable = truth.has_value();
        trace.entries = truth.value_or(std::vector<GuestAddr>{});
    } else if (m_stacks) {
        trace = m_stacks->save_task_reliable(task.id);
    }
    if (!trace.reliable || trace.entries.size() >= kMaxStackEntries) {
        return -22; // -EINVAL
    }
    if (task.id != m_current_task && truth && *truth != trace.entries) {
        finding("unsound-reliable-trace", Severity::Error, task,
                trace.entries.empty() ? GuestAddr{} : trace.entries.front(),
                fmt::format("unwinder: {}: klp_try_switch_task got a reliable trace that is "
                            "wrong; trace: {}; truth: {}",
                            m_stacks->policy(), symbolize_list(trace.entries),
                            symbolize_list(*truth)));
    }
    if (stack_holds_patched(trace.entries, &old_name)) {
        return -98; // -EADDRINUSE
    }
    if (truth && stack_holds_patched(*truth, &old_name)) {
        finding("premature-switch", Severity::Error, task,
                truth->empty() ? GuestAddr{} : truth->front(),
                fmt::format("{} switched to the {} state while its true stack holds {}: {}",
                            task.name, direction(m_target), old_name, symbolize_list(*truth)));
    }
    return 0;
}

// klp_try_switch_task.
bool Livepatch::try_switch_task(emu::Task& task) {
    if (task.patch_state == m_target) {
        return true;
    }
    if (!m_options.reliable_stacktrace) {
        return false;
    }
    int ret = 0;
    std::string old_name;
    if (task.finished()) {
        ret = 0; // No stack: "reliably" empty.
    } else if (task.state == emu::TaskState::Running && task.id != m_current_task) {
        ret = -16; // -EBUSY
    } else {
        ret = check_stack(task, old_name);
    }
    if (ret == 0) {
        task.tif_patch_pending = false;
        task.patch_state = m_target;
    }
    m_try_round.push_back(ret == 0 ? fmt::format("switched {}", task.name)
                                   : fmt::format("refused {} ({})", task.name,
                                                 ret == -16   ? "running"
                                                 : ret == -22 ? "unreliable stack"
                                                              : "sleeping on " + old_name));
    // pr_debug: off unless `echo 'func klp_try_switch_task +p' > .../dynamic_debug/control`
    // (the selftests turn it off: "func klp_try_switch_task -p").
    if (m_debug_switch && ret != 0) {
        constexpr std::string_view fn = "klp_try_switch_task";
        switch (ret) {
        case -16:
            klp_log(fmt::format("livepatch: {}: {}:{} is running", fn, task.name, task.id));
            break;
        case -22:
            klp_log(fmt::format("livepatch: {}: {}:{} has an unreliable stack", fn, task.name,
                                task.id));
            break;
        case -98:
            klp_log(fmt::format("livepatch: {}: {}:{} is sleeping on function {}", fn, task.name,
                                task.id, old_name));
            break;
        default:
            klp_log(fmt::format("livepatch: {}: Unknown error code ({}) when trying to switch "
                                "{}:{}",
                                fn, ret, task.name, task.id));
            break;
        }
    }
    return ret == 0;
}

// klp_update_patch_state.
void Livepatch::update_patch_state(emu::Task& task) {
    if (task.tif_patch_pending) {
        task.tif_patch_pending = false;
        task.patch_state = m_target;
        m_try_round.push_back(fmt::format("switched {} (klp_update_patch_state)", task.name));
        if (!m_in_try_round) {
            transition_event(m_try_round.back());
            m_try_round.clear();
        }
    }
}

// klp_send_signals.
void Livepatch::send_signals() {
    if (m_signals_cnt == kSignalsTimeout) {
        pr("notice", "signaling remaining tasks\n");
    }
    // Every thread still pending (idle tasks are not signalled): a kthread is woken from an
    // interruptible sleep (wake_up_state(TASK_INTERRUPTIBLE)); any other task gets a fake
    // signal (set_notify_signal: TIF_NOTIFY_SIGNAL, and woken), so that signal_pending() ends
    // its interruptible sleep and it reaches exit to user, where it switches.
    for (emu::Task* t : all_tasks()) {
        if (t->kind == emu::TaskKind::Idle || t->finished() || !t->tif_patch_pending) {
            continue;
        }
        // set_notify_signal wakes only when it sets the flag; a kthread is woken every time.
        const bool signal_now = t->kind == emu::TaskKind::User && !t->tif_notify_signal;
        if (t->kind == emu::TaskKind::User) {
            t->tif_notify_signal = true;
        }
        if ((t->kind != emu::TaskKind::User || signal_now) &&
            (t->sleep_state & emu::kTaskInterruptible)) {
            m_machine.wake_up(t->id);
        }
    }
}

// klp_try_complete_transition.
GuestProc Livepatch::try_complete_transition() {
    if (!m_transition_patch) {
        co_return 0;
    }
    m_work_at = UINT64_MAX;
    // kthreadd and the shell sleep with clean stacks: they switch at every attempt.
    m_fork_parent = {m_target, false};
    bool complete = true;
    m_in_try_round = true;
    m_try_round.clear();
    for (emu::Task* t : all_tasks()) {
        if (t->kind == emu::TaskKind::Idle) {
            continue;
        }
        if (!try_switch_task(*t)) {
            complete = false;
        }
    }
    for (emu::Task* t : all_tasks()) {
        if (t->kind != emu::TaskKind::Idle) {
            continue;
        }
        if (!try_switch_task(*t) && t->state == emu::TaskState::Running) {
            // wake_up_if_idle(): the idle loop goes round and do_idle() ends with
            // klp_update_patch_state(current).
            update_patch_state(*t);
        }
        complete = complete && t->patch_state == m_target;
    }
    m_in_try_round = false;
    if (!m_try_round.empty()) {
        std::string what;
        for (const auto& step : m_try_round) {
            what += what.empty() ? "" : ", ";
            what += step;
        }
        m_try_round.clear();
        transition_event(fmt::format("'{}': tried to switch tasks: {}",
                                     m_transition_patch->mod_name, what));
    }
    if (!complete) {
        if (m_signals_cnt && !(m_signals_cnt % kSignalsTimeout)) {
            send_signals();
        }
        ++m_signals_cnt;
        // schedule_delayed_work(round_jiffies_relative(HZ)): one second on, rounded to a whole
        // second (down within its first quarter, else up), as round_jiffies() does.
        const uint64_t hz = m_options.instructions_per_second;
        uint64_t at = m_machine.instructions() + hz;
        const uint64_t rem = at % hz;
        at = rem < hz / 4 ? at - rem : at - rem + hz;
        m_work_at = std::max(at, m_machine.instructions() + 1);
        co_return 0;
    }
    Patch* patch = m_transition_patch;
    co_await complete_transition();
    if (!patch->enabled) {
        free_patch(*patch);
    } else if (patch->replace) {
        // klp_free_replaced_patches_async: every older patch goes.
        std::erase_if(m_patches, [&](const std::unique_ptr<Patch>& p) {
            if (p.get() != patch && !p->enabled && p->forced) {
                m_forced_modules.insert(p->mod_name);
            }
            return p.get() != patch && !p->enabled;
        });
    }
    co_return 0;
}

// klp_complete_transition.
GuestProc Livepatch::complete_transition() {
    Patch& patch = *m_transition_patch;
    m_sched_try_switch_key = false; // klp_resched_disable
    pr("debug",
       fmt::format("'{}': completing {} transition\n", patch.mod_name, direction(m_target)));
    if (patch.replace && m_target == emu::PatchState::Patched) {
        for (auto& old : m_patches) { // klp_unpatch_replaced_patches
            if (old.get() == &patch) {
                break;
            }
            old->enabled = false;
            unpatch_objects(*old);
        }
        unpatch_objects(patch, true); // klp_discard_nops
        std::erase_if(patch.objs, [](const std::unique_ptr<Object>& o) { return o->dynamic; });
        for (auto& obj : patch.objs) {
            std::erase_if(obj->funcs, [](const std::unique_ptr<Func>& f) { return f->nop; });
        }
    }
    if (m_target == emu::PatchState::Unpatched) {
        unpatch_objects(patch);
    }
    for (auto& obj : patch.objs) {
        for (auto& func : obj->funcs) {
            func->transition = false;
        }
    }
    for (emu::Task* t : all_tasks()) {
        t->tif_patch_pending = false;
        t->patch_state = emu::PatchState::Idle;
    }
    m_fork_parent = {};
    for (auto& obj : patch.objs) {
        if (!object_loaded(*obj)) {
            continue;
        }
        if (m_target == emu::PatchState::Patched) {
            co_await post_patch_callback(*obj);
        } else {
            co_await post_unpatch_callback(*obj);
        }
    }
    pr("notice", fmt::format("'{}': {} complete\n", patch.mod_name, direction(m_target)));
    transition_event(fmt::format("'{}': {} complete", patch.mod_name, direction(m_target)));
    write_back(patch);
    m_target = emu::PatchState::Idle;
    m_transition_patch = nullptr;
    m_work_at = UINT64_MAX;
    co_return 0;
}

// klp_cancel_transition.
GuestProc Livepatch::cancel_transition() {
    pr("debug", fmt::format("'{}': canceling patching transition, going to unpatch\n",
                            m_transition_patch->mod_name));
    m_target = emu::PatchState::Unpatched;
    co_await complete_transition();
    co_return 0;
}

// klp_reverse_transition.
void Livepatch::reverse_transition() {
    Patch& patch = *m_transition_patch;
    pr("debug", fmt::format("'{}': reversing transition from {}\n", patch.mod_name,
                            m_target == emu::PatchState::Patched ? "patching to unpatching"
                                                                 : "unpatching to patching"));
    for (emu::Task* t : all_tasks()) {
        t->tif_patch_pending = false;
    }
    m_fork_parent.tif_patch_pending = false;
    patch.enabled = !patch.enabled;
    m_target = m_target == emu::PatchState::Patched ? emu::PatchState::Unpatched
                                                    : emu::PatchState::Patched;
    write_back(patch);
    transition_event(fmt::format("'{}': transition reversed", patch.mod_name));
    start_transition();
}

// klp_force_transition.
void Livepatch::force_transition() {
    pr("warn", "forcing remaining tasks to the patched state\n");
    transition_event(fmt::format("'{}': transition forced", m_transition_patch->mod_name));
    for (emu::Task* t : all_tasks()) {
        if (!t->tif_patch_pending) {
            continue;
        }
        if (m_stacks) {
            std::string old_name;
            if (auto truth = m_stacks->true_stack(t->id);
                truth && !t->finished() && stack_holds_patched(*truth, &old_name)) {
                finding("unsafe-force", Severity::Info, *t,
                        truth->empty() ? GuestAddr{} : truth->front(),
                        fmt::format("force switched {} while its true stack holds {}: {}", t->name,
                                    old_name, symbolize_list(*truth)));
            }
        }
        update_patch_state(*t);
    }
    m_fork_parent = {m_target, false};
    if (m_target == emu::PatchState::Unpatched) {
        m_transition_patch->forced = true;
    } else if (m_transition_patch->replace) {
        for (auto& p : m_patches) {
            if (p.get() != m_transition_patch) {
                p->forced = true;
            }
        }
    }
}

bool Livepatch::work_due() const {
    return m_transition_patch && m_running.empty() && m_machine.instructions() >= m_work_at;
}

// ---- observation -------------------------------------------------------------------------------

void Livepatch::on_return_to_user(int /*cpu*/, int task) {
    // do_notify_resume / exit_to_user_mode_loop: _TIF_PATCH_PENDING -> klp_update_patch_state.
    if (m_transition_patch) {
        update_patch_state(m_machine.task(task));
    }
    // Then do_signal: a fake signal only restarts the syscall (clear_notify_signal).
    m_machine.task(task).tif_notify_signal = false;
}

// consistency-violation: the version of a patched function a task executes must be the one
// klp_ftrace_handler would choose for it now. A version's body starts after its ftrace call
// site (the prologue `[bti c] mov x9, x30; bl` runs before any choice is made).
void Livepatch::on_instruction(const emu::InsnEvent& ev) {
    if (m_transition_patch && m_running.empty() && ev.instruction >= m_work_at) {
        m_machine.request_stop();
    }
    if (m_ops.empty() || ev.task < 0 || !in_ops_code(ev.pc)) {
        return;
    }
    const uint64_t pc = ev.pc.value;
    for (const auto& [old_func, ops] : m_ops) {
        const Func* top = ops->func_stack.front();
        const Func* in = nullptr;
        bool in_original = false;
        if (pc >= old_func.value && pc < old_func.value + top->old_size) {
            const uint32_t first = m_machine.memory().load<uint32_t>(old_func);
            const uint64_t body = old_func.value + (first == kBtiC ? 12 : 8);
            if (pc < body) {
                continue;
            }
            in_original = true;
        } else {
            for (const Func* f : ops->func_stack) {
                if (!f->nop && pc >= f->new_func.value && pc < f->new_func.value + f->new_size) {
                    in = f;
                }
            }
            if (!in) {
                continue;
            }
        }
        const emu::Task& task = m_machine.task(ev.task);
        const Func* want = chosen_func(*ops, task.patch_state);
        // A task outside a transition in progress (KLP_TRANSITION_IDLE: created without
        // klp_copy_process) is a broken model whatever it runs; klp_ftrace_handler warns.
        const bool outside = top->transition && task.patch_state == emu::PatchState::Idle;
        if (!outside && ((in_original && want == nullptr) || (!in_original && in == want))) {
            return;
        }
        if (!m_violations.insert({ev.task, old_func}).second) {
            return;
        }
        const char* state = emu::patch_state_name(task.patch_state);
        if (outside) {
            finding("consistency-violation", Severity::Error, task, ev.pc,
                    fmt::format("{} (patch_state idle) runs {} during the transition of {}: it "
                                "has no patch state (klp_ftrace_handler warns)",
                                task.name,
                                in_original ? "the original " + top->old_name
                                            : m_machine.symbolize(in->new_func).base,
                                top->old_name));
            return;
        }
        finding("consistency-violation", Severity::Error, task, ev.pc,
                fmt::format("{} (patch_state {}) runs {} but klp_ftrace_handler gives it {}",
                            task.name, state,
                            in_original ? "the original " + top->old_name
                                        : m_machine.symbolize(in->new_func).base,
                            want ? m_machine.symbolize(want->new_func).base
                                 : "the original " + top->old_name));
        return;
    }
}

} // namespace klpemu::patcher::livepatch
