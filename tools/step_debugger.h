// The step debugger's command language (`klpemu step`, and `monitor` in `klpemu gdb`): one
// Debugger holds a StepSession, the focus (a task; the CPU it runs on follows), numbered
// breakpoints, and turns each command line into plain, stable text. Moving commands go through
// the session (exact single instructions forward, replay backward); looking commands read the
// stopped machine. Bad input gives one "error: ..." line; nothing the user types ends the
// debugger.
#pragma once

#include "emu/cpu_state.h"
#include "emu/disassembler.h"
#include "emu/guest_addr.h"
#include "emu/result.h"
#include "scenarios/step_session.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::tools {

class Debugger {
  public:
    explicit Debugger(std::unique_ptr<scenario::StepSession> session);

    // Runs one command line ("stepi 3", "x/4x $sp"); the output ends with a newline unless empty.
    std::string execute(std::string_view line);
    // Runs "cmd; cmd; ..." one after the other, echoing each as "(klpemu) cmd".
    std::string execute_script(std::string_view text);
    bool quit_requested() const { return m_quit; }

    scenario::StepSession& session() { return *m_session; }
    const scenario::StepSession& session() const { return *m_session; }
    // The focused task (-1 before anything ran on the machine).
    int focus_task() const;
    void set_focus_task(int task) { m_focus = task; }
    // The CPU whose registers describe the focused task now, or -1 if it is not running.
    int focus_cpu() const;

    // The stop as one line: "#1234 cpu0 worker leaf+0x4: bl ftrace_caller  (breakpoint 1)".
    std::string stop_line() const;
    // An address expression: 0x..., decimal, $pc/$sp/$lr/$fp/$xN, SYMBOL, SYMBOL+OFF.
    Result<GuestAddr> parse_address(std::string_view text) const;
    // The focused task's registers: its CPU's if it runs, else its saved context (pc, sp,
    // x19-x30). `live` tells which.
    emu::CpuState task_registers(int task, bool* live = nullptr) const;
    // One instruction, symbolized: "bl leaf" rather than "bl 0xffff...".
    std::string disassemble(GuestAddr pc) const;

    // Moves, shared with the gdb stub. Each returns an error line on failure.
    Result<void> step_instructions(int task, uint64_t count);
    Result<void> reverse_step_instructions(int task, uint64_t count);
    Result<void> continue_forward();
    Result<void> reverse_continue();
    // The text a moving command answers with: the new stop (the focus follows it) or the error.
    std::string answer_move(const Result<void>& r) { return moved(r); }
    // The user's state the session does not hold (focus, next breakpoint number), for a
    // checkpoint handoff (scenarios/step_checkpoints.h).
    void save_state(scenario::WireWriter& out) const;
    void adopt_state(scenario::WireReader& in);
    // The views, shared with the gdb stub's `monitor`.
    std::string view_backtrace(std::string_view args) const;
    std::string view_tasks() const;
    std::string view_checkpoints() const;
    std::string view_digest() const;

  private:
    using Handler = std::string (Debugger::*)(std::string_view args);
    struct Command {
        std::string_view name;
        std::string_view alias;
        Handler handler;
        std::string_view help;
    };
    static const std::vector<Command>& commands();

    // Moving.
    std::string cmd_stepi(std::string_view args);
    std::string cmd_nexti(std::string_view args);
    std::string cmd_next(std::string_view args);
    std::string cmd_continue(std::string_view args);
    std::string cmd_finish(std::string_view args);
    std::string cmd_until(std::string_view args);
    std::string cmd_step_event(std::string_view args);
    std::string cmd_timeline(std::string_view args);
    std::string cmd_do(std::string_view args);
    std::string cmd_reverse_stepi(std::string_view args);
    std::string cmd_reverse_continue(std::string_view args);
    std::string cmd_back(std::string_view args);
    std::string cmd_goto(std::string_view args);
    // Stopping.
    std::string cmd_break(std::string_view args);
    std::string cmd_watch(std::string_view args) {
        return add_watch(args, scenario::WatchKind::Write);
    }
    std::string cmd_rwatch(std::string_view args) {
        return add_watch(args, scenario::WatchKind::Read);
    }
    std::string cmd_awatch(std::string_view args) {
        return add_watch(args, scenario::WatchKind::Access);
    }
    std::string add_watch(std::string_view args, scenario::WatchKind kind);
    std::string cmd_delete(std::string_view args);
    std::string cmd_info(std::string_view args);
    // Looking.
    std::string cmd_regs(std::string_view args);
    std::string cmd_examine(std::string_view args);
    std::string cmd_disas(std::string_view args);
    std::string cmd_bt(std::string_view args);
    std::string cmd_tasks(std::string_view args);
    std::string cmd_patches(std::string_view args);
    std::string cmd_plt(std::string_view args);
    std::string cmd_log(std::string_view args);
    std::string cmd_cycles(std::string_view args);
    std::string cmd_findings(std::string_view args);
    std::string cmd_where(std::string_view args);
    // Focus and the rest.
    std::string cmd_cpu(std::string_view args);
    std::string cmd_task(std::string_view args);
    std::string cmd_help(std::string_view args);
    std::string cmd_quit(std::string_view args);

    // Where `break SPEC` stops, and " (file.c:42)" for a FILE:LINE spec.
    struct BreakLocations {
        std::vector<GuestAddr> addrs;
        std::string line;
    };
    Result<BreakLocations> break_locations(std::string_view spec) const;
    // After a move: the new stop (focus follows it) or the error.
    std::string moved(const Result<void>& r);
    Result<int> parse_task(std::string_view name) const;
    // Runs with the events breaks set to `events` only (step-event).
    Result<void> resume_with(const scenario::ResumeRules& rules);
    bool running_machine() const;
    // One instruction of the focus, running over a call (nexti).
    Result<void> next_instruction();
    // The source line whose code holds `pc` (the line table row at or before it, in the same
    // function); `starts`: pc is a recommended breakpoint address (is_stmt) of that line.
    struct SourceLine {
        std::string file;
        uint32_t line = 0;
        bool starts = false;
    };
    std::optional<SourceLine> source_line(GuestAddr pc) const;

    std::unique_ptr<scenario::StepSession> m_session;
    Disassembler m_disassembler;
    int m_focus = -1;
    int m_next_id = 1;
    bool m_quit = false;
};

} // namespace klpemu::tools
