// Test helper for the GDB remote stub: starts `klpemu gdb SCENARIO --port 0 ...` in a child
// process with its standard output in a file, and waits for the line that names its port; and
// waits for a child to exit (killing it if it hangs).
#pragma once

#include "support/subprocess.h"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace klpemu::test {

struct GdbStub {
    pid_t pid = -1;
    std::string port;
};

// Starts the stub on `scenario` with `extra` arguments after `--port 0`; its stdout goes to
// `out_path`. Requires the port line within 20 s.
inline GdbStub start_gdb_stub(const std::string& scenario, const std::filesystem::path& out_path,
                              const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{KLPEMU_BINARY, "gdb", scenario, "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    GdbStub stub;
    stub.pid = fork();
    REQUIRE(stub.pid >= 0);
    if (stub.pid == 0) {
        FILE* out = std::freopen(out_path.c_str(), "w", stdout);
        (void)out;
        std::vector<char*> argv;
        for (std::string& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        execv(KLPEMU_BINARY, argv.data());
        _exit(127);
    }
    for (int i = 0; i < 200 && stub.port.empty(); ++i) {
        const std::string text = slurp(out_path);
        const size_t at = text.find("127.0.0.1:");
        if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
            stub.port = text.substr(at + 10, text.find('\n', at) - at - 10);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    REQUIRE_MESSAGE(!stub.port.empty(), slurp(out_path));
    return stub;
}

// The command line of one `gdb-multiarch -batch` session (at most 60 s) attached to the stub on
// `port`, running `commands` in order (each an `-ex`); `before` run before it attaches (e.g. a
// `symbol-file`).
inline std::vector<std::string> gdb_batch(const std::string& port,
                                          const std::vector<std::string>& commands,
                                          const std::vector<std::string>& before = {}) {
    std::vector<std::string> args{
        "/usr/bin/timeout",        "60", "gdb-multiarch", "-batch", "-nx", "-ex",
        "set architecture aarch64"};
    for (const std::string& c : before) {
        args.push_back("-ex");
        args.push_back(c);
    }
    args.push_back("-ex");
    args.push_back("target remote 127.0.0.1:" + port);
    for (const std::string& c : commands) {
        args.push_back("-ex");
        args.push_back(c);
    }
    return args;
}

// The child's exit status once it exits (within 20 s); -1 if it did not exit normally or had
// to be killed.
inline int wait_exit(pid_t pid) {
    for (int i = 0; i < 200; ++i) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
}

} // namespace klpemu::test
