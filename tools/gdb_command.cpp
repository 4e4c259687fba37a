// `klpemu gdb SCENARIO --port N`: loads the scenario as `klpemu step` does, listens on
// 127.0.0.1:N (0 picks a free port; the chosen one is printed) and serves one gdb connection
// until gdb detaches or kills. Exit status 0, or 2 when the scenario cannot be loaded or the
// port cannot be bound.
#include "scenarios/step_session.h"
#include "tools/gdb_stub.h"
#include "tools/gdb_symbol_file.h"
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
};

int run_gdb(const GdbOptions& o) {
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
    stub.serve();
    std::printf("klpemu: gdb disconnected\n");
    return 0;
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
    cmd->callback([options, &exit_status] { exit_status = run_gdb(*options); });
}

} // namespace klpemu::tools
