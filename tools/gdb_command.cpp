// `klpemu gdb SCENARIO --port N`: loads the scenario as `klpemu step` does, listens on
// 127.0.0.1:N (0 picks a free port; the chosen one is printed) and serves one gdb connection
// until gdb detaches or kills. Exit status 0, or 2 when the scenario cannot be loaded or the
// port cannot be bound.
//
// With checkpoints on (the default; --checkpoint-interval 0 turns them off) the stub runs in a
// session process (session_process.h) that a backward move (bs, bc) replaces by a checkpoint's
// worker, which takes the connection over; this process waits until the session has ended.
#include "scenarios/step_session.h"
#include "tools/gdb_stub.h"
#include "tools/gdb_symbol_file.h"
#include "tools/session_process.h"
#include "tools/step_debugger.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace klpemu::tools {

namespace {

struct GdbOptions {
    std::string file;
    int port = 1234;
    std::string symbols; // Where to write the symbol file for gdb; empty: not written.
    uint64_t checkpoint_interval = 1'000'000;
};

// Serves the scenario; `link` >= 0: in a session process whose front end waits on `link`.
int serve_gdb(const GdbOptions& o, int link, int lifeline) {
    auto session = scenario::StepSession::open(o.file);
    if (!session) {
        std::fprintf(stderr, "%s\n", session.error().message.c_str());
        return 2;
    }
    Debugger debugger(std::move(*session));
    if (!o.symbols.empty()) {
        if (auto r = write_gdb_symbol_file(*debugger.session().access().machine, o.symbols); !r) {
            std::fprintf(stderr, "klpemu: error: %s\n", r.error().message.c_str());
            return 2;
        }
    }
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) {
        std::fprintf(stderr, "klpemu: error: socket: %s\n", std::strerror(errno));
        return 2;
    }
    const int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(uint16_t(o.port));
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 1) != 0) {
        std::fprintf(stderr, "klpemu: error: cannot listen on 127.0.0.1:%d: %s\n", o.port,
                     std::strerror(errno));
        ::close(listener);
        return 2;
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    std::printf("klpemu: gdb stub for %s listening on 127.0.0.1:%d\n%s\n", o.file.c_str(),
                ntohs(addr.sin_port), debugger.stop_line().c_str());
    std::fflush(stdout);
    const int fd = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    if (fd < 0) {
        std::fprintf(stderr, "klpemu: error: accept: %s\n", std::strerror(errno));
        return 2;
    }
    GdbStub stub(debugger, fd);
    if (link < 0) {
        stub.serve();
        std::printf("klpemu: gdb disconnected\n");
        return 0;
    }
    stub.set_session_link(link);
    scenario::CheckpointOptions options;
    options.interval = o.checkpoint_interval;
    options.lifeline = lifeline;
    debugger.session().enable_checkpoints(options, stub);
    stub.serve();
    stub.end_session();
}

int run_gdb(const GdbOptions& o) {
    if (o.checkpoint_interval != 0) {
        auto link = start_session_process([&o](int fd, int lifeline) {
            const int status = serve_gdb(o, fd, lifeline);
            std::fflush(nullptr);
            send_reply(fd, SessionReply{::getpid(), uint64_t(status), true, {}});
        });
        if (link) {
            const auto end = receive_reply(link->fd);
            end_session_process(*link);
            return end ? int(end->status) : 1;
        }
    }
    return serve_gdb(o, -1, -1);
}

} // namespace

void register_gdb_command(CLI::App& app, int& exit_status) {
    auto options = std::make_shared<GdbOptions>();
    auto* cmd = app.add_subcommand("gdb", "Serve a scenario to gdb (remote protocol over TCP)");
    cmd->add_option("scenario", options->file, "Scenario file (.toml)")->required();
    cmd->add_option("--port", options->port, "TCP port on 127.0.0.1 (0: any free port)")
        ->check(CLI::Range(0, 65535));
    cmd->add_option("--symbols", options->symbols,
                    "Write the loaded symbols as an ELF file for gdb's `symbol-file`");
    cmd->add_option("--checkpoint-interval", options->checkpoint_interval,
                    "Instructions between reverse-execution checkpoints (0: none, going back "
                    "replays from the start)")
        ->capture_default_str();
    cmd->callback([options, &exit_status] { exit_status = run_gdb(*options); });
}

} // namespace klpemu::tools
