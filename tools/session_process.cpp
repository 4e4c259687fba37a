// See session_process.h.
#include "tools/session_process.h"

#include "scenarios/step_wire.h"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace klpemu::tools {

bool send_reply(int fd, const SessionReply& reply) {
    scenario::WireWriter w;
    w.i64(reply.pid);
    w.u64(reply.status);
    w.u64(reply.quit ? 1 : 0);
    w.str(reply.text);
    return scenario::send_frame(fd, w.bytes());
}

std::optional<SessionReply> receive_reply(int fd) {
    auto frame = scenario::recv_frame(fd);
    if (!frame) {
        return std::nullopt;
    }
    scenario::WireReader r(std::move(*frame));
    SessionReply reply;
    reply.pid = r.i64();
    reply.status = r.u64();
    reply.quit = r.u64() != 0;
    reply.text = r.str();
    if (r.failed()) {
        return std::nullopt;
    }
    return reply;
}

std::optional<SessionLink>
start_session_process(const std::function<void(int fd, int lifeline)>& session_main) {
    int sv[2];
    int life[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return std::nullopt;
    }
    if (::pipe2(life, O_CLOEXEC) != 0) {
        ::close(sv[0]);
        ::close(sv[1]);
        return std::nullopt;
    }
    // Orphaned checkpoints and workers become our children, so we can wait for all of them.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        for (int fd : {sv[0], sv[1], life[0], life[1]}) {
            ::close(fd);
        }
        return std::nullopt;
    }
    if (pid == 0) {
        ::close(sv[0]);
        ::close(life[1]);
        session_main(sv[1], life[0]);
        std::fflush(nullptr);
        ::_exit(0);
    }
    ::close(sv[1]);
    ::close(life[0]);
    return SessionLink{sv[0], life[1], pid};
}

void end_session_process(SessionLink& link) {
    ::close(link.fd);
    ::close(link.lifeline);
    link.fd = link.lifeline = -1;
    while (true) {
        const pid_t p = ::waitpid(-1, nullptr, 0);
        if (p < 0 && errno != EINTR) {
            break; // ECHILD: nothing of the session is left.
        }
    }
}

} // namespace klpemu::tools
