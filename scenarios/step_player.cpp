// See step_player.h. The player runs Runner::run() on its own thread; every place it can stop
// is a call into StepPlayer on that thread, which decides from the debugger's rules whether to
// park there.
#include "scenarios/step_player.h"

#include "emu/machine.h"
#include "emu/observer.h"
#include "patcher/ftrace.h"
#include "scenarios/machine_backend.h"
#include "scenarios/runner.h"
#include "scenarios/step_load_access.h"
#include "scenarios/unwind_check.h"
#include "unwinder/unwinder.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <new>
#include <sys/socket.h>
#include <unistd.h>

namespace klpemu::scenario {

// The first observer of the machine: sees each instruction before any checker does.
class StepObserver final : public emu::ExecutionObserver {
  public:
    explicit StepObserver(StepPlayer& player) : m_player(player) {}
    void on_instruction(const emu::InsnEvent& ev) override {
        m_player.on_instruction(ev.cpu, ev.task, ev.pc, ev.instruction);
    }
    void on_task_switch(int, int, int) override { m_player.note_switch(); }
    void on_exception_entry(int, int, emu::ExceptionKind kind, GuestAddr) override {
        if (kind == emu::ExceptionKind::Irq) {
            m_player.note_irq();
        }
    }

  private:
    StepPlayer& m_player;
};

// Forwards to the machine backend; parks at the end of the timeline; records transcript lines;
// refuses everything once the session abandoned the run, so the runner unwinds quickly.
class SteppedBackend final : public Backend {
  public:
    SteppedBackend(StepPlayer& player, std::unique_ptr<Backend> real)
        : m_player(player), m_real(std::move(real)) {}

    Result<void> load_object(const ObjectSpec& object) override {
        return note(m_real->load_object(object));
    }
    Result<void> start_task(const TaskSpec& task, std::span<const uint64_t> args) override {
        return note(m_real->start_task(task, args));
    }
    std::optional<uint64_t> symbol_address(std::string_view name) const override {
        return m_real->symbol_address(name);
    }
    Result<RunStop> run_for(uint64_t instructions) override {
        KLP_TRY(alive());
        return m_real->run_for(instructions);
    }
    Result<RunStop> run_until(const ReachPoint& reach) override {
        KLP_TRY(alive());
        return m_real->run_until(reach);
    }
    Result<void> inject_irq(int cpu) override {
        KLP_TRY(alive());
        return m_real->inject_irq(cpu);
    }
    Result<CallOutcome> call(std::string_view function, std::span<const uint64_t> args) override {
        KLP_TRY(alive());
        return failed_step(m_real->call(function, args));
    }
    Result<void> module_action(const ModuleAction& action) override {
        KLP_TRY(alive());
        return failed_step(m_real->module_action(action));
    }
    Result<void> ftrace(const FtraceAction& action) override {
        KLP_TRY(alive());
        return failed_step(m_real->ftrace(action));
    }
    // Livepatch's shell actions (insmod, echo, cat, wait ...) and every other feature's.
    Result<void> feature_action(const Action& action) override {
        KLP_TRY(alive());
        return failed_step(m_real->feature_action(action));
    }
    std::vector<BackendEvent> take_events() override {
        auto events = m_real->take_events();
        for (const auto& e : events) {
            if (e.kind == BackendEvent::Kind::Finding) {
                m_player.m_session.m_events.push_back(
                    fmt::format("{}: {}: {}", e.finding.kind, e.finding.where, e.finding.message));
            } else {
                m_player.m_session.m_events.push_back(e.text);
            }
        }
        return events;
    }
    uint64_t instructions() const override { return m_real->instructions(); }
    uint64_t cycles() const override { return m_real->cycles(); }
    void finish() override {
        m_player.at_end();
        m_real->finish();
    }
    std::optional<UnwindReport> unwind_report() const override { return m_real->unwind_report(); }
    DebugAccess debug_access() override { return m_real->debug_access(); }

    // At the end of the timeline: runs the machine on (whatever tasks remain).
    Result<RunStop> run_on() { return m_real->run_for(UINT64_MAX); }

  private:
    Result<void> alive() const {
        if (m_player.abandoned()) {
            return make_error("step: the session was abandoned");
        }
        return {};
    }
    // A timeline step the backend refused ends the run: the end stop says why.
    template <typename T> Result<T> failed_step(Result<T> r) {
        if (!r && m_player.m_step_error.empty() && !m_player.abandoned()) {
            m_player.m_step_error = r.error().message;
        }
        return r;
    }
    Result<void> note(Result<void> r) {
        if (!r && m_player.m_error.empty()) {
            m_player.m_error = r.error().message;
        }
        return r;
    }

    StepPlayer& m_player;
    std::unique_ptr<Backend> m_real;
};

StepPlayer::StepPlayer(StepSession& session, const Scenario& scenario)
    : m_session(session), m_scenario(scenario), m_observer(std::make_unique<StepObserver>(*this)) {}

StepPlayer::~StepPlayer() {
    if (m_thread.joinable()) {
        {
            std::unique_lock lock(m_mutex);
            m_abandon = true;
            if (m_access.machine != nullptr) {
                m_access.machine->abort_runs();
            }
            m_player_turn = true;
        }
        m_cv.notify_all();
        m_thread.join();
    }
}

void StepPlayer::start(const ResumeRules& rules) {
    m_rules = rules;
    m_player_turn = true;
    m_thread = std::thread([this] { thread_main(); });
    wait_for_player();
}

void StepPlayer::resume(const ResumeRules& rules) {
    {
        std::unique_lock lock(m_mutex);
        m_rules = rules;
        m_player_turn = true;
    }
    m_cv.notify_all();
    wait_for_player();
}

void StepPlayer::wait_for_player() {
    std::unique_lock lock(m_mutex);
    while (m_player_turn && !m_ended) {
        if (m_cv.wait_for(lock, std::chrono::milliseconds(20)) == std::cv_status::timeout &&
            m_session.m_poll) {
            lock.unlock();
            m_session.m_poll();
            lock.lock();
        }
    }
}

void StepPlayer::park(StopState stop) {
    std::unique_lock lock(m_mutex);
    m_stop = std::move(stop);
    m_player_turn = false;
    m_cv.notify_all();
    m_cv.wait(lock, [this] { return m_player_turn; });
    if (!m_abandon) {
        m_session.m_interrupt.store(false);
        m_steps_left = m_rules.task_steps;
        take_baselines();
        m_next_checkpoint = m_session.m_checkpoints.next_due(m_access.machine->instructions());
    }
}

void StepPlayer::thread_main() {
    auto factory = [this](const Scenario& s,
                          ChromeTraceProcess* trace) -> Result<std::unique_ptr<Backend>> {
        UnwindRequest request;
        if (auto policies = parse_policy_list("all")) {
            request.policies = *policies;
        }
        auto real = machine_backend_factory(request)(s, trace);
        if (!real) {
            m_error = real.error().message;
            return real.error();
        }
        auto stepped = std::make_unique<SteppedBackend>(*this, std::move(*real));
        m_backend = stepped.get();
        m_access = stepped->debug_access();
        if (m_access.machine != nullptr) {
            m_access.machine->add_observer_first(m_observer.get());
        }
        take_baselines();
        m_steps_left = m_rules.task_steps;
        m_next_checkpoint = m_session.m_checkpoints.next_due(0);
        return std::unique_ptr<Backend>(std::move(stepped));
    };
    Runner runner(factory);
    runner.set_before_step([this](size_t index) { before_step(index); });
    auto result = runner.run(m_scenario, RunOptions{});
    if (m_error.empty() && result.status == Status::Error) {
        m_error = result.message;
    } else if (m_error.empty() && result.status == Status::Skip) {
        m_error = fmt::format("{}: cannot step: {}", m_scenario.file.string(), result.message);
    }
    std::unique_lock lock(m_mutex);
    m_access = {};
    m_backend = nullptr;
    m_ended = true;
    m_player_turn = false;
    m_cv.notify_all();
}

void StepPlayer::before_step(size_t index) {
    m_steps_started = index;
    if (!m_abandon && m_rules.step_boundaries && !m_rules.at_clock) {
        StopState s;
        s.at = StopAt::StepBoundary;
        s.clock = m_access.machine->instructions();
        s.steps_started = index;
        s.reason = fmt::format("before step {}", index + 1);
        park(std::move(s));
    }
    m_steps_started = index + 1;
}

void StepPlayer::at_end() {
    emu::Machine& machine = *m_access.machine;
    auto target_pending = [&] {
        return m_rules.at_clock && machine.instructions() < *m_rules.at_clock;
    };
    // A replay passes the end on its way to its target; anything else stops here first.
    bool run = target_pending();
    while (!m_abandon) {
        if (run && !m_ran_dry) {
            auto r = m_backend->run_on();
            if (!r) {
                m_ran_dry = true;
                m_dry_reason = r.error().message;
            } else if (*r != RunStop::Done) {
                m_ran_dry = true;
                m_dry_reason = *r == RunStop::Idle ? "every task has exited or is blocked"
                                                   : "the instruction budget is exhausted";
            }
            if (m_abandon) {
                return;
            }
        }
        StopState s;
        s.at = StopAt::End;
        s.clock = machine.instructions();
        s.steps_started = m_scenario.steps.size();
        s.reason = m_ran_dry ? fmt::format("end of the timeline; {}", m_dry_reason)
                             : std::string("end of the timeline");
        if (!m_step_error.empty()) {
            s.reason += fmt::format("; a step failed: {}", m_step_error);
        }
        park(std::move(s));
        // Moving on from the end runs the machine on, unless the target is behind us.
        run = !m_rules.at_clock || target_pending();
    }
}

void StepPlayer::take_baselines() {
    if (m_access.machine == nullptr) {
        return;
    }
    const emu::Machine& machine = *m_access.machine;
    m_text_writes = machine.text_writes();
    m_findings = findings_count();
    m_checker_findings =
        m_access.unwind != nullptr ? m_access.unwind->checker().findings().size() : 0;
    m_transition_tasks = machine.task_count();
    m_transition = transition_signature();
    m_view_transition_events = view_transition_events();
    m_switched = false;
    m_irq = false;
    m_read_hit.clear();
    const auto& watches = m_session.m_conditions.watchpoints;
    m_watch_values.assign(watches.size(), {});
    for (size_t i = 0; i < watches.size(); ++i) {
        if (const uint8_t* p = machine.memory().host_ptr(watches[i].addr, watches[i].len)) {
            m_watch_values[i].assign(p, p + watches[i].len);
        }
    }
}

uint64_t StepPlayer::findings_count() const {
    uint64_t n = m_access.machine->findings().size();
    if (m_access.unwind != nullptr) {
        n += m_access.unwind->checker().findings().size();
    }
    return n;
}

uint64_t StepPlayer::transition_signature() const {
    const emu::Machine& machine = *m_access.machine;
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ULL; };
    // Tasks created since the last stop are left out: a child's inherited state
    // (klp_copy_process) is no transition step.
    for (int id = 0; id < std::min(machine.task_count(), m_transition_tasks); ++id) {
        const emu::Task& t = machine.task(id);
        if (t.patch_state == emu::PatchState::Idle && !t.tif_patch_pending) {
            continue; // A task created outside a transition is no transition step.
        }
        mix(uint64_t(id));
        mix(uint64_t(int64_t(t.patch_state) + 2));
        mix(t.tif_patch_pending ? 1 : 0);
    }
    for (const emu::DebugView* v : machine.debug_views()) {
        mix(v->transition_events());
    }
    return h;
}

uint64_t StepPlayer::view_transition_events() const {
    uint64_t n = 0;
    for (const emu::DebugView* v : m_access.machine->debug_views()) {
        n += v->transition_events();
    }
    return n;
}

// Which condition (if any) stops before the instruction at `pc`, as the stop reason.
std::optional<std::string> StepPlayer::condition_hit(int cpu, int task, GuestAddr pc) {
    const emu::Machine& machine = *m_access.machine;
    const StopConditions& c = m_session.m_conditions;
    for (const Breakpoint& b : c.breakpoints) {
        if (b.pc == pc && (b.task < 0 || b.task == task)) {
            return fmt::format("breakpoint {}", b.id);
        }
    }
    if (size_t(cpu) < m_read_hit.size() && m_read_hit[size_t(cpu)] != 0) {
        const int id = std::exchange(m_read_hit[size_t(cpu)], 0);
        for (const Watchpoint& w : c.watchpoints) {
            if (w.id == id) {
                return fmt::format("watchpoint {}: {} read", w.id, machine.symbolize(w.addr).str());
            }
        }
    }
    std::optional<LoadAccess> load;
    bool decoded = false;
    for (size_t i = 0; i < c.watchpoints.size() && i < m_watch_values.size(); ++i) {
        const Watchpoint& w = c.watchpoints[i];
        if (w.kind != WatchKind::Write) {
            if (!decoded) {
                decoded = true;
                if (const std::optional<InsnWord> word = machine.memory().insn_word(pc)) {
                    load = load_access(pc, *word,
                                       [&](unsigned n) { return machine.read_x(cpu, int(n)); });
                }
            }
            if (load && load->addr.value < w.addr.value + w.len &&
                w.addr.value < load->addr.value + load->size) {
                if (m_read_hit.size() <= size_t(cpu)) {
                    m_read_hit.resize(size_t(cpu) + 1, 0);
                }
                m_read_hit[size_t(cpu)] = w.id; // Reported once the load has run.
            }
            if (w.kind == WatchKind::Read) {
                continue;
            }
        }
        const uint8_t* p = machine.memory().host_ptr(w.addr, w.len);
        if (p != nullptr && m_watch_values[i].size() == w.len &&
            std::memcmp(p, m_watch_values[i].data(), w.len) != 0) {
            m_watch_values[i].assign(p, p + w.len);
            return fmt::format("watchpoint {}: {} changed", w.id, machine.symbolize(w.addr).str());
        }
    }
    const EventBreaks& e = c.events;
    if (!e.any()) {
        return std::nullopt;
    }
    if (e.patch && machine.text_writes() != m_text_writes) {
        m_text_writes = machine.text_writes();
        std::string what = "text written";
        if (m_access.ftrace != nullptr) {
            const auto log = m_access.ftrace->patch_log();
            if (!log.empty()) {
                what = log.back();
            }
        }
        return fmt::format("event patch: {}", what);
    }
    if (e.task_switch && m_switched) {
        m_switched = false;
        return fmt::format("event switch: cpu{} now runs {}", cpu, machine.task(task).name);
    }
    if (e.irq && m_irq) {
        m_irq = false;
        return fmt::format("event irq: cpu{} took an IRQ", cpu);
    }
    if (e.finding) {
        const uint64_t n = findings_count();
        if (n != m_findings) {
            // The newest finding of whichever source grew: the checker's or the machine's.
            const bool checker_grew =
                m_access.unwind != nullptr &&
                m_access.unwind->checker().findings().size() > m_checker_findings;
            m_findings = n;
            m_checker_findings =
                m_access.unwind != nullptr ? m_access.unwind->checker().findings().size() : 0;
            const Finding& f = checker_grew ? m_access.unwind->checker().findings().back()
                                            : machine.findings().back();
            return fmt::format("event finding: {} at {}", f.kind, f.where);
        }
    }
    if (e.transition) {
        const uint64_t sig = transition_signature();
        if (sig != m_transition) {
            m_transition = sig;
            // The views' latest step, if they moved since the previous stop; several steps
            // between two instructions (one try of the delayed work) are counted.
            std::string what = "a task's patch state changed";
            const uint64_t events = view_transition_events();
            if (events != m_view_transition_events) {
                for (const emu::DebugView* v : machine.debug_views()) {
                    if (auto line = v->last_transition_event(); !line.empty()) {
                        what = line;
                    }
                }
                if (const uint64_t more = events - m_view_transition_events - 1; more > 0) {
                    what += fmt::format(" (after {} more transition step{})", more,
                                        more == 1 ? "" : "s");
                }
                m_view_transition_events = events;
            }
            return fmt::format("event transition: {}", what);
        }
    }
    return std::nullopt;
}

void StepPlayer::on_instruction(int cpu, int task, GuestAddr pc, uint64_t clock) {
    if (m_abandon) {
        return;
    }
    if (clock >= m_next_checkpoint) {
        maybe_checkpoint(clock);
    }
    StepSession& s = m_session;
    if (clock >= s.m_history_end) {
        if (!s.m_history.empty() && clock > s.m_history_end) {
            s.m_history.push_back(HistorySlice{s.m_history_end, -1, -1}); // Idle time.
        }
        if (s.m_history.empty() || s.m_history.back().cpu != cpu ||
            s.m_history.back().task != task) {
            s.m_history.push_back(HistorySlice{clock, cpu, task});
        }
        s.m_history_end = clock + 1;
    }
    std::optional<std::string> reason;
    if (m_rules.at_clock) {
        if (clock < *m_rules.at_clock) {
            if (m_rules.scan) {
                if (auto hit = condition_hit(cpu, task, pc)) {
                    s.m_last_hit = StepSession::Hit{clock, std::move(*hit)};
                }
            }
            return;
        }
        reason = m_rules.at_reason;
    } else {
        if (m_rules.step_task == task && m_rules.task_steps != 0 && --m_steps_left == 0) {
            reason = "step";
        }
        if (!reason && m_rules.temp_pc && *m_rules.temp_pc == pc &&
            (m_rules.temp_task < 0 || m_rules.temp_task == task) &&
            m_access.machine->read_x(cpu, 31) > m_rules.temp_sp) {
            reason = "reached";
        }
        if (!reason && m_rules.conditions) {
            reason = condition_hit(cpu, task, pc);
        }
        if (!reason && s.m_interrupt.load(std::memory_order_relaxed)) {
            reason = "interrupted";
        }
        if (!reason) {
            return;
        }
    }
    StopState st;
    st.at = StopAt::Instruction;
    st.clock = clock;
    st.cpu = cpu;
    st.task = task;
    st.pc = pc;
    st.steps_started = m_steps_started;
    st.reason = std::move(*reason);
    park(std::move(st));
}

uint64_t StepPlayer::quiet_signature() const {
    const emu::Machine& machine = *m_access.machine;
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ULL; };
    mix(machine.text_writes());
    mix(findings_count());
    mix(view_transition_events());
    mix(m_switch_count);
    mix(m_irq_count);
    for (int id = 0; id < machine.task_count(); ++id) {
        const emu::Task& t = machine.task(id);
        mix(uint64_t(int64_t(t.patch_state) + 2) << 1 | (t.tif_patch_pending ? 1 : 0));
    }
    for (const Watchpoint& w : m_session.m_conditions.watchpoints) {
        if (const uint8_t* p = machine.memory().host_ptr(w.addr, w.len)) {
            for (uint32_t i = 0; i < w.len; ++i) {
                mix(p[i]);
            }
        }
    }
    return h;
}

void StepPlayer::maybe_checkpoint(uint64_t clock) {
    const uint64_t sig = quiet_signature();
    if (m_quiet_run == 0 || clock != m_quiet_clock + 1 || sig != m_quiet_signature) {
        m_quiet_signature = sig;
        m_quiet_run = 1;
    } else {
        ++m_quiet_run;
    }
    m_quiet_clock = clock;
    if (m_quiet_run > kQuietHooks) {
        m_quiet_run = 0;
        take_checkpoint(clock);
    }
}

void StepPlayer::take_checkpoint(uint64_t clock) {
    CheckpointStore& store = m_session.m_checkpoints;
    // Whatever happens, the next try is in the next interval.
    m_next_checkpoint =
        store.next_due(clock - clock % store.options().interval + store.options().interval);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return;
    }
    std::fflush(nullptr); // Nothing buffered may be written twice.
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(sv[0]);
        ::close(sv[1]);
        return; // No checkpoint here: going back replays from an earlier one, or the start.
    }
    if (pid == 0) {
        ::close(sv[0]);
        become_checkpoint(sv[1], clock);
        return; // A worker: the session goes on from here, on its way to the handoff's target.
    }
    ::close(sv[1]);
    store.add(Checkpoint{clock, pid, sv[0]});
    CheckpointStore::reap();
    m_next_checkpoint = store.next_due(clock + 1);
}

void StepPlayer::become_checkpoint(int control, uint64_t clock) {
    StepSession& s = m_session;
    std::signal(SIGINT, SIG_IGN); // Ctrl-C is for the session, not its past.
    for (int fd : s.m_front->fds()) {
        ::close(fd);
    }
    s.m_checkpoints.forget_in_child();
    auto [payload, fds] = checkpoint_wait(control, s.m_checkpoints.options().lifeline);

    // A worker. The debugger thread of the process this was forked from does not exist here:
    // the baton restarts (its mutex may have been held by that thread at the fork), and a new
    // front-end thread takes the session over once the player parks at the move's target.
    WireReader in(std::move(payload));
    std::string front;
    std::vector<int> front_fds;
    const StepSession::BackMove move = s.adopt(in, std::move(fds), front, front_fds);
    new (&m_mutex) std::mutex;
    new (&m_cv) std::condition_variable;
    m_player_turn = true;
    m_rules = ResumeRules{};
    m_rules.at_clock = move.target;
    m_rules.at_reason = move.reason;
    m_rules.conditions = false;
    m_rules.scan = move.kind == StepSession::BackMove::Kind::Scan;
    m_steps_left = 0;
    take_baselines();
    m_next_checkpoint = s.m_checkpoints.next_due(clock + 1);
    std::thread([&s, move, front = std::move(front), front_fds = std::move(front_fds)] {
        WireReader state(front);
        s.m_front->adopt(state, front_fds);
        s.m_front->finish(s.finish_move(move));
    }).detach();
}

} // namespace klpemu::scenario
