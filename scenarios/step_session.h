// A stepping session over one scenario: the engine behind `klpemu step` and `klpemu gdb`.
//
// The scenario plays exactly as `klpemu run` plays it (same runner, same machine backend, every
// unwinder policy observed so that the ground truth is always there), on a player thread that
// hands control back to the debugger at each stop and waits. Stops are instruction boundaries:
// the first observer of the machine's one code hook (emu/machine.h: add_observer_first) parks
// the player before any checker has seen the instruction, so PC is exact and the instruction has
// not run. Two more stop kinds exist between machine runs: before a timeline step, and at the
// end of the timeline.
//
// Going back is exact because the machine is deterministic: the session runs forward again to
// the wanted value of the one clock, from the nearest checkpoint at or before it
// (step_checkpoints.h: a forked copy of the session process, which holds the machine, the
// engine's state and the runner's position inside a timeline step), or, without one, by
// throwing the player away and replaying the scenario from the start. With checkpoints the
// move finishes in another process: this one hands the user's present over and exits inside
// go_to_clock() or reverse_continue(), so only a session whose front end can move with it
// enables them (tools/step_server.h, tools/gdb_stub.h). docs/step.md gives the interval, the
// bound and the costs. A digest of the machine state recorded at each forward stop is compared
// after every replay that reaches the same clock, so a replay that diverges is reported
// instead of silently showing another history.
#pragma once

#include "emu/guest_addr.h"
#include "emu/result.h"
#include "scenarios/debug_access.h"
#include "scenarios/scenario_file.h"
#include "scenarios/step_checkpoints.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace klpemu::scenario {

enum class StopAt {
    Instruction,  // Before an instruction executes: clock, cpu, task and pc are exact.
    StepBoundary, // Before timeline step `step` runs (between machine runs).
    End,          // The timeline has ended; running on runs the machine until it idles.
};

struct StopState {
    StopAt at = StopAt::StepBoundary;
    uint64_t clock = 0; // Instructions executed so far (the one clock).
    int cpu = -1;       // Instruction only.
    int task = -1;      // Instruction only.
    GuestAddr pc;       // Instruction only.
    // Timeline steps started so far: at a StepBoundary the next step's index; at an Instruction,
    // the running step is number `steps_started` (1-based; 0: still loading); End: all.
    size_t steps_started = 0;
    std::string reason; // Why it stopped, one line.
};

// Stop conditions the debugger keeps; the player evaluates them at every instruction.
struct Breakpoint {
    int id = 0;
    GuestAddr pc;
    int task = -1; // -1: any task.
};
enum class WatchKind { Write, Read, Access };
struct Watchpoint {
    int id = 0;
    GuestAddr addr;
    uint32_t len = 8;
    // Write: the bytes changed (checked after every instruction). Read: a load read any of
    // them (scenarios/step_load_access.h). Access: either.
    WatchKind kind = WatchKind::Write;
};
struct EventBreaks {
    bool patch = false; // A text write (ftrace, module PLTs, livepatch, a debugger write).
    bool task_switch = false;
    bool transition = false; // A task's patch_state/TIF_PATCH_PENDING, or a DebugView's counter.
    bool finding = false;
    bool irq = false;
    bool any() const { return patch || task_switch || transition || finding || irq; }
};
struct StopConditions {
    std::vector<Breakpoint> breakpoints;
    std::vector<Watchpoint> watchpoints; // Stop after the instruction that wrote or read.
    EventBreaks events;
};

// What ends one resume (besides an interrupt, the end of the timeline and the conditions).
struct ResumeRules {
    int step_task = -1; // With task_steps: stop before the task's task_steps-th next insn.
    uint64_t task_steps = 0;
    std::optional<uint64_t> at_clock; // Stop before instruction number at_clock (nothing else).
    bool scan = false; // With at_clock: note the last clock where the conditions would stop.
    std::string at_reason = "reached"; // The stop's reason when at_clock is reached.
    bool step_boundaries = false;      // Stop before the next timeline step.
    bool conditions = true;            // Honour breakpoints, watchpoints and event breaks.
    // A temporary breakpoint (next, finish, until): pc in `temp_task`, with sp above temp_sp
    // (so a recursive call of the same function does not stop it).
    std::optional<GuestAddr> temp_pc;
    int temp_task = -1; // -1: any task.
    uint64_t temp_sp = 0;
};

// Runs of consecutive instructions of one task on one CPU, for reverse stepping per task. A
// slice with task -1 is idle time: the clock ran on while every CPU idled
// (Machine::pass_idle_time) and no instruction ran.
struct HistorySlice {
    uint64_t start = 0; // Clock of its first instruction.
    int cpu = 0;
    int task = 0;
};

class StepPlayer;
class SteppedBackend;

class StepSession {
  public:
    // Parses and loads the scenario and stops before its first timeline step (or at the end if
    // it has none). Errors are the scenario's (file:line), or why it cannot be stepped.
    static Result<std::unique_ptr<StepSession>> open(const std::filesystem::path& file);
    ~StepSession();
    StepSession(const StepSession&) = delete;
    StepSession& operator=(const StepSession&) = delete;

    const Scenario& scenario() const { return m_scenario; }
    const StopState& stop() const;
    // The stopped backend's parts (valid until the next move).
    DebugAccess access() const;
    // Transcript lines the runner has taken from the backend so far.
    const std::vector<std::string>& events() const { return m_events; }
    StopConditions& conditions() { return m_conditions; }

    // Runs forward until a rule or condition fires. Errors: the session could not run.
    Result<void> resume(const ResumeRules& rules);
    // Goes exactly to instruction number `clock` (backward: by replaying from the start).
    // `reason` becomes the stop's reason.
    Result<void> go_to_clock(uint64_t clock, std::string reason = "reached");
    // The clock of `task`'s last instruction before `before`, if it ran one (history).
    std::optional<uint64_t> previous_instruction(int task, uint64_t before) const;
    // The clock of the `n`th instruction any CPU ran before `before`, idle time skipped
    // (history); nullopt if fewer ran. Contract: n > 0.
    std::optional<uint64_t> instruction_back(uint64_t before, uint64_t n) const;
    // The last stop the conditions cause in [0, before) (its clock and reason), by replaying
    // with them from the start.
    struct Hit {
        uint64_t clock = 0;
        std::string reason;
    };
    Result<std::optional<Hit>> last_condition_hit(uint64_t before);
    // Goes back to the last stop the conditions cause before now; with none, to instruction 0
    // and an error saying so.
    Result<void> reverse_continue();

    // From now on takes a checkpoint every options.interval instructions while running, and
    // hands the session over to the nearest one when going back (step_checkpoints.h): the
    // calling process then exits inside go_to_clock or reverse_continue, and the move finishes
    // in the worker, which calls front.finish(). Only for a session whose front end can move
    // with it (never an in-process test).
    void enable_checkpoints(const CheckpointOptions& options, SessionFrontEnd& front);
    const CheckpointStore& checkpoints() const { return m_checkpoints; }
    // The debugger wrote registers or memory at the current stop: what follows differs from
    // the checkpoints taken after it, so they are dropped.
    void note_debugger_write();
    // The last backward move: instructions it re-executed, and the checkpoint it started from
    // (nullopt: the start of the scenario).
    uint64_t last_move_replayed() const { return m_last_replayed; }
    std::optional<uint64_t> last_move_from() const { return m_last_from; }

    // Ends the current resume at the next instruction; callable from a signal-safe context.
    void interrupt() { m_interrupt.store(true); }
    // Called every ~20 ms while the machine runs (the gdb stub reads Ctrl-C there).
    void set_poll(std::function<void()> poll) { m_poll = std::move(poll); }

    // Replays so far, and the instructions they re-executed.
    uint64_t replays() const { return m_replays; }
    uint64_t replayed_instructions() const { return m_replayed; }

  private:
    friend class StepPlayer;
    friend class SteppedBackend;
    explicit StepSession(Scenario scenario);
    Result<void> start_player(const ResumeRules& rules);
    Result<void> wait_stopped();

    // A backward move as it travels to a checkpoint: go to `target`, or find the last condition
    // hit in [from, target) and go there (reverse-continue, one checkpoint interval at a time).
    struct BackMove {
        enum class Kind : uint64_t { GoTo = 1, Scan = 2 };
        Kind kind = Kind::GoTo;
        uint64_t target = 0;
        std::string reason;
        uint64_t from = 0; // The checkpoint's clock.
    };
    // Sends the present and `move` to checkpoint `c` and exits once a worker took them; returns
    // false if the checkpoint could not take them (it is dropped; the caller replays instead).
    bool hand_off(const Checkpoint& c, const BackMove& move);
    // In the worker, on the player thread: takes the present over; returns the move and the
    // front end's part of the handoff.
    BackMove adopt(WireReader& in, std::vector<int> fds, std::string& front,
                   std::vector<int>& front_fds);
    // In the worker, on the new front-end thread: waits for the player and completes `move`.
    Result<void> finish_move(const BackMove& move);
    // reverse-continue over [0, before): the checkpoint below `before`, else a scan from the start.
    Result<void> scan_back(uint64_t before);

    Scenario m_scenario;
    std::unique_ptr<StepPlayer> m_player;
    StopConditions m_conditions;
    std::vector<std::string> m_events;
    std::vector<HistorySlice> m_history;
    uint64_t m_history_end = 0;                       // Clocks below it are recorded in m_history.
    std::unordered_map<uint64_t, uint64_t> m_digests; // Clock -> machine digest (forward stops).
    std::atomic<bool> m_interrupt{false};
    std::function<void()> m_poll;
    std::optional<Hit> m_last_hit; // Filled by a scan replay.
    uint64_t m_replays = 0;
    uint64_t m_replayed = 0;
    uint64_t m_last_replayed = 0;
    std::optional<uint64_t> m_last_from;
    CheckpointStore m_checkpoints;
    SessionFrontEnd* m_front = nullptr;
};

// A digest of the machine's architectural state: every CPU's general and FP/SIMD registers and
// cycle counter, every task's state, and the clock. Equal digests at one clock mean the replay
// reproduced the run.
uint64_t machine_digest(const emu::Machine& machine);

} // namespace klpemu::scenario
