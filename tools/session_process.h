// The two sides of a checkpointed session (scenarios/step_checkpoints.h): the front-end process,
// which the shell started and which keeps the terminal, the script and stdin, and the session
// process, which holds the machine and answers one command at a time over a socket pair. A
// backward move replaces the session process by a worker forked from a checkpoint; every
// session process inherits the socket, so the front end does not notice. The front end stays
// until the session ends: it is a child subreaper and, after closing the lifeline that every
// checkpoint watches, waits until no descendant is left, so the shell gets its prompt back only
// when nothing of the session remains.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>

namespace klpemu::tools {

// One answer of the session process.
struct SessionReply {
    int64_t pid = 0;     // The session process that answered.
    uint64_t status = 0; // 0, or the exit status the session ended with (it could not start).
    bool quit = false;   // The session has ended (quit, or gdb went away).
    std::string text;    // What to print.
};

bool send_reply(int fd, const SessionReply& reply);
std::optional<SessionReply> receive_reply(int fd);

struct SessionLink {
    int fd = -1;       // The front end's end of the socket pair.
    int lifeline = -1; // Write end of the lifeline pipe.
    pid_t pid = -1;    // The first session process.
};

// Forks the first session process, which runs `session_main(fd, lifeline_read_end)` and exits
// (it must not return into the caller's stack, so it exits with status 0 when the function
// returns). nullopt when the fork or the sockets fail: the caller then runs in-process.
std::optional<SessionLink>
start_session_process(const std::function<void(int fd, int lifeline)>& session_main);
// Closes the socket and the lifeline and waits until every descendant has exited.
void end_session_process(SessionLink& link);

} // namespace klpemu::tools
