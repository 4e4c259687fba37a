// `klpemu gdb`: a GDB remote stub over one TCP connection on 127.0.0.1. gdb-multiarch drives the
// same Debugger as `klpemu step`: threads are tasks (thread id = task id + 1), registers are the
// task's CPU while it runs and its saved context while it sleeps, software breakpoints (Z0/Z1)
// and write watchpoints (Z2) are the session's stop conditions, vCont/s/c step and continue
// exactly, bs/bc go back (from a checkpoint or by replay), 0x03 interrupts a running continue, and
// `monitor CMD` runs any step-debugger command (bt, tasks, patches...) and prints its text in gdb.
//
// With checkpoints on, the stub is what moves with the session to a checkpoint's worker
// (scenarios/step_checkpoints.h): the connection, the unread bytes, the ack mode, the Hc thread
// and the packet whose backward move was handed over, which the worker then answers.
#pragma once

#include "emu/fp_state.h"
#include "scenarios/step_checkpoints.h"
#include "tools/gdb_protocol.h"
#include "tools/step_debugger.h"

#include <optional>
#include <string>

namespace klpemu::tools {

class GdbStub final : public scenario::SessionFrontEnd {
  public:
    // `fd` is a connected socket; the stub owns and closes it.
    GdbStub(Debugger& debugger, int fd);
    ~GdbStub() override;
    GdbStub(const GdbStub&) = delete;
    GdbStub& operator=(const GdbStub&) = delete;

    // Serves packets until gdb detaches, kills or disconnects.
    void serve();
    // In a session process (tools/session_process.h): the socket to the front-end process,
    // which end_session() tells that the session is over.
    void set_session_link(int fd) { m_link = fd; }
    // Prints that gdb went away, tells the front end and exits the session process.
    [[noreturn]] void end_session();

    std::vector<int> fds() const override { return {m_fd, m_link}; }
    void save(scenario::WireWriter& out, std::vector<int>& fds) const override;
    void adopt(scenario::WireReader& in, const std::vector<int>& fds) override;
    [[noreturn]] void finish(const Result<void>& r) override;

  private:
    bool read_more();
    void send(std::string_view payload);
    void send_raw(std::string_view bytes);
    // One packet; returns false when the connection should end.
    bool handle(const std::string& packet);
    std::string query(std::string_view packet);
    std::string stop_reply(int signal = 5);
    std::string register_hex(int r, const emu::CpuState& s, bool live,
                             const std::optional<emu::FpState>& fp) const;
    std::optional<emu::FpState> focus_fp_state() const;
    std::string read_registers();
    std::string write_registers(std::string_view hex);
    std::string read_register(std::string_view args);
    std::string write_register(std::string_view args);
    std::string read_memory(std::string_view args);
    std::string write_memory(std::string_view args);
    std::string breakpoint(bool insert, std::string_view args);
    std::string resume(std::string_view action, int thread);
    // The stop reply after a move by `action` ("s", "c", "bs", "bc") that ended with `r`.
    std::string resume_reply(std::string_view action, const Result<void>& r);
    std::string v_cont(std::string_view args);
    std::string monitor(std::string_view hex);
    int thread_task(std::string_view id) const; // -1 any / unknown
    // Polls the socket for 0x03 while the machine runs.
    void poll_interrupt();

    Debugger& m_debugger;
    int m_fd;
    gdb::PacketReader m_reader;
    bool m_ack = true;
    int m_step_task = -1;     // Hc
    std::string m_stop_extra; // "watch:...;", "swbreak:;", "replaylog:begin;"
    // The packet a move is running for, if a handoff must answer it: "bs", "bc" or "monitor".
    std::string m_moving;
    int m_link = -1;
};

} // namespace klpemu::tools
