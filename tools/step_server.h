// The session process's side of `klpemu step` when checkpoints are on (session_process.h): it
// reads one command line from the front end, runs it on the Debugger and answers with its text.
// It is also the front end that moves with the session to a checkpoint's worker
// (scenarios/step_checkpoints.h): what it hands over is the Debugger's own state and the socket,
// because the terminal, the script and libedit's history stay in the front-end process.
#pragma once

#include "scenarios/step_checkpoints.h"
#include "tools/step_debugger.h"

namespace klpemu::tools {

class StepServer final : public scenario::SessionFrontEnd {
  public:
    // `fd`: the session's end of the socket pair to the front end.
    StepServer(Debugger& debugger, int fd);
    // Sends one answer to the front end.
    void reply(const std::string& text, bool quit = false, uint64_t status = 0);
    // Answers commands until quit or the front end goes away; then exits the process.
    [[noreturn]] void serve();

    std::vector<int> fds() const override { return {m_fd}; }
    void save(scenario::WireWriter& out, std::vector<int>& fds) const override;
    void adopt(scenario::WireReader& in, const std::vector<int>& fds) override;
    [[noreturn]] void finish(const Result<void>& r) override;

  private:
    void install_interrupt();

    Debugger& m_debugger;
    int m_fd;
};

} // namespace klpemu::tools
