// See step_server.h.
#include "tools/step_server.h"

#include "tools/session_process.h"

#include <csignal>
#include <cstdio>
#include <unistd.h>

namespace klpemu::tools {

namespace {

// Set by SIGINT (Ctrl-C reaches every process of the terminal's foreground group, this one
// included), read by the session's poll: a signal handler can only reach static storage.
volatile std::sig_atomic_t g_interrupted = 0;

void on_sigint(int) {
    g_interrupted = 1;
}

} // namespace

StepServer::StepServer(Debugger& debugger, int fd) : m_debugger(debugger), m_fd(fd) {
    install_interrupt();
}

void StepServer::install_interrupt() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    m_debugger.session().set_poll([this] {
        if (g_interrupted) {
            g_interrupted = 0;
            m_debugger.session().interrupt();
        }
    });
}

void StepServer::reply(const std::string& text, bool quit, uint64_t status) {
    SessionReply r;
    r.pid = ::getpid();
    r.status = status;
    r.quit = quit;
    r.text = text;
    send_reply(m_fd, r);
}

void StepServer::serve() {
    while (true) {
        auto frame = scenario::recv_frame(m_fd);
        if (!frame) {
            break; // The front end has gone (end of input, or it died).
        }
        scenario::WireReader in(std::move(*frame));
        const std::string line = in.str();
        g_interrupted = 0;
        const std::string out = m_debugger.execute(line);
        reply(out, m_debugger.quit_requested());
        if (m_debugger.quit_requested()) {
            break;
        }
    }
    std::fflush(nullptr);
    ::_exit(0);
}

void StepServer::save(scenario::WireWriter& out, std::vector<int>& fds) const {
    m_debugger.save_state(out);
    fds.push_back(m_fd);
}

void StepServer::adopt(scenario::WireReader& in, const std::vector<int>& fds) {
    m_debugger.adopt_state(in);
    m_fd = fds.at(0);
    install_interrupt();
}

void StepServer::finish(const Result<void>& r) {
    reply(m_debugger.answer_move(r));
    serve();
}

} // namespace klpemu::tools
