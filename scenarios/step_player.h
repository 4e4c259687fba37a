// The player thread of a stepping session (see step_session.h); private to the session.
//
// The runner plays the scenario on this thread, through a Backend that forwards to the real
// machine backend and adds three places where the player parks: the first observer of every
// instruction, the runner's before-step callback, and the end of the timeline. Parking hands a
// baton (mutex + condition variable) to the debugger thread and waits for it back, so exactly
// one of the two threads runs at any time and the machine is only ever inspected while parked.
// Unicorn runs on this thread only; the debugger reads registers of a CPU whose hook is parked.
#pragma once

#include "scenarios/step_session.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace klpemu::scenario {

class StepObserver;
class SteppedBackend;

class StepPlayer {
  public:
    StepPlayer(StepSession& session, const Scenario& scenario);
    ~StepPlayer(); // Abandons the run if it is still going, then joins.

    // Starts the thread with `rules`; returns once it parked (or ended without parking).
    void start(const ResumeRules& rules);
    // Hands the baton over with new rules; returns once the player parked again.
    void resume(const ResumeRules& rules);
    // True once the thread has finished (it only parks while it lives).
    bool ended() const { return m_ended; }
    const StopState& stop() const { return m_stop; }
    DebugAccess access() const { return m_access; }
    // The first error the backend returned (load failures and the like), if any.
    const std::string& error() const { return m_error; }

    // Waits until the player parked (or ended).
    void wait_for_player();

  private:
    friend class StepObserver;
    friend class SteppedBackend;

    void thread_main();
    // Player side: publishes `stop` and waits for the debugger's next rules.
    void park(StopState stop);
    bool abandoned() const { return m_abandon; }
    // Called by the observer before each instruction.
    void on_instruction(int cpu, int task, GuestAddr pc, uint64_t clock);
    void before_step(size_t index);
    void at_end();
    void note_switch() {
        m_switched = true;
        ++m_switch_count;
    }
    void note_irq() {
        m_irq = true;
        ++m_irq_count;
    }
    // Checkpoints (step_checkpoints.h): one is taken once the clock passed the next due point
    // and nothing a stop condition watches changed for kQuietHooks instructions, so a scan that
    // starts at the checkpoint sees the same events a scan from the start sees.
    void maybe_checkpoint(uint64_t clock);
    void take_checkpoint(uint64_t clock);
    // In the new checkpoint: waits; returns in a worker that took a handoff over.
    void become_checkpoint(int control, uint64_t clock);
    uint64_t quiet_signature() const;
    // Event counters and watched values, taken at each resume so only new events stop.
    void take_baselines();
    std::optional<std::string> condition_hit(int cpu, int task, GuestAddr pc);
    uint64_t findings_count() const;
    uint64_t transition_signature() const;
    uint64_t view_transition_events() const; // The sum of the DebugViews' counters.

    StepSession& m_session;
    const Scenario& m_scenario;
    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_player_turn = false;
    bool m_ended = false;
    bool m_abandon = false;
    ResumeRules m_rules;
    StopState m_stop;
    DebugAccess m_access;
    SteppedBackend* m_backend = nullptr;
    std::unique_ptr<StepObserver> m_observer;
    std::string m_error;
    std::string m_step_error; // The first timeline step the backend refused.
    bool m_ran_dry = false; // At the end: the machine had nothing left to run.
    std::string m_dry_reason;

    // Baselines for event breaks.
    uint64_t m_text_writes = 0;
    uint64_t m_findings = 0;
    uint64_t m_checker_findings = 0;
    uint64_t m_transition = 0;
    int m_transition_tasks = 0; // Tasks that existed at the last stop (transition_signature).
    uint64_t m_view_transition_events = 0; // The sum of the DebugViews' counters.
    std::vector<std::vector<uint8_t>> m_watch_values;
    std::vector<int> m_read_hit; // Per CPU: a watchpoint its last instruction read (0: none).
    bool m_switched = false;
    bool m_irq = false;
    uint64_t m_steps_left = 0;
    size_t m_steps_started = 0;

    static constexpr uint64_t kQuietHooks = 8;
    uint64_t m_next_checkpoint = UINT64_MAX;
    uint64_t m_quiet_signature = 0;
    uint64_t m_quiet_clock = 0; // The last hook the quiet run covers.
    uint64_t m_quiet_run = 0;
    uint64_t m_switch_count = 0;
    uint64_t m_irq_count = 0;
};

} // namespace klpemu::scenario
