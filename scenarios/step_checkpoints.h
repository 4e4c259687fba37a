// Checkpoints of a stepping session, for reverse execution that replays a bounded stretch
// instead of the whole scenario (docs/step.md, "Reverse").
//
// A checkpoint is a forked copy of the session process, taken on the player thread at an
// instruction boundary: fork() captures the machine's RAM and every CPU context, the engine
// (ftrace, modules, livepatch, the checker's shadow stacks, the transcript) and the runner's
// position inside a timeline step exactly, at the cost of the pages written after it. The copy
// keeps only the player thread and waits on a control socket; it exits when told to, or when
// the lifeline (a pipe only the front-end process can write) reaches end of file, so no
// checkpoint outlives the session.
//
// Going back to instruction T sends the nearest checkpoint at or before T the user's present (the
// session's stop conditions and history, the front end's state and sockets) and the move; it
// forks a worker (so it stays usable), which adopts the present, runs forward to T, answers
// the command and carries on as the session, while the old session process exits. The store
// below is the session's list of checkpoints; it moves with the session.
#pragma once

#include "emu/result.h"
#include "scenarios/step_wire.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace klpemu::scenario {

struct CheckpointOptions {
    uint64_t interval = 1'000'000; // Instructions between checkpoints; 0: none.
    size_t max = 32;               // Checkpoints kept; an older one is dropped past it.
    int lifeline = -1;             // Read end of the lifeline pipe (end of file: session over).
};

// What the front end of a session (the step command server, the gdb stub) hands over with it.
class SessionFrontEnd {
  public:
    virtual ~SessionFrontEnd() = default;
    // The descriptors it uses (a checkpoint closes them: only the session may use them).
    virtual std::vector<int> fds() const = 0;
    // Its state and descriptors, for the process that takes the session over.
    virtual void save(WireWriter& out, std::vector<int>& fds) const = 0;
    // In that process, on a new thread: takes the saved state over.
    virtual void adopt(WireReader& in, const std::vector<int>& fds) = 0;
    // Answers the command whose backward move was handed over (`r` is the move's outcome) and
    // serves the session until it ends; never returns.
    [[noreturn]] virtual void finish(const Result<void>& r) = 0;
};

struct Checkpoint {
    uint64_t clock = 0; // Taken before instruction number `clock`.
    int pid = -1;
    int fd = -1; // The session's end of its control socket.
};

class CheckpointStore {
  public:
    CheckpointStore() = default;
    explicit CheckpointStore(const CheckpointOptions& options) : m_options(options) {}
    bool enabled() const { return m_options.interval != 0; }
    const CheckpointOptions& options() const { return m_options; }
    const std::vector<Checkpoint>& list() const { return m_list; }
    uint64_t taken() const { return m_taken; }

    // The first clock at or after `clock` where a checkpoint is wanted: the start of the
    // first interval (past the first one) that holds none. UINT64_MAX when off.
    uint64_t next_due(uint64_t clock) const;
    // Keeps `c`, then, while more than `max` (at least 3) are kept, drops the one whose
    // neighbours are closest (never the first, the last or `c`), so the kept ones stay spread
    // over the whole history.
    void add(Checkpoint c);
    // The latest checkpoint at or before `clock` / strictly before `clock`.
    std::optional<Checkpoint> at_or_before(uint64_t clock) const;
    std::optional<Checkpoint> before(uint64_t clock) const;
    // Tells the checkpoint to exit and forgets it.
    void drop(int pid);
    // Drops every checkpoint taken after `clock` (a debugger write changed what follows).
    void drop_after(uint64_t clock);
    // Collects checkpoints and workers that have exited (never blocks).
    static void reap();

    // The list for a handoff: values into `out`, control sockets appended to `fds`.
    void save(WireWriter& out, std::vector<int>& fds) const;
    // The list from a handoff; `fds` are the ones save() appended, in order.
    void adopt(WireReader& in, const std::vector<int>& fds);
    std::vector<int> fds() const;
    // In a new checkpoint: forgets the list without telling anyone (the copies belong to the
    // session) and closes its descriptors.
    void forget_in_child();

  private:
    CheckpointOptions m_options{0, 32, -1};
    std::vector<Checkpoint> m_list; // Ascending clocks.
    uint64_t m_taken = 0;
};

// In a freshly forked checkpoint: waits for orders on `control` (and the lifeline). Returns
// only in a worker it forked for a handoff, with the handoff's bytes and descriptors; exits
// the process when told to or when the session ends.
std::pair<std::string, std::vector<int>> checkpoint_wait(int control, int lifeline);

// Frames on a checkpoint's control socket.
enum class CheckpointOrder : uint64_t { Exit = 1, Handoff = 2 };

} // namespace klpemu::scenario
