// Runs the built klpemu binary (KLPEMU_BINARY) through the shell and captures what it prints
// (stdout and stderr together) and its exit status, for end-to-end command-line tests.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace klpemu::test {

struct ProcessResult {
    int status = -1; // Exit status, or -1 if the process did not exit normally.
    std::string output;
};

// Runs `KLPEMU_BINARY arguments` with the working directory `cwd` (empty: unchanged).
inline ProcessResult run_klpemu(const std::string& arguments, const std::string& cwd = {}) {
    std::string command;
    if (!cwd.empty()) {
        command = "cd '" + cwd + "' && ";
    }
    command += std::string("'") + KLPEMU_BINARY + "' " + arguments + " 2>&1";
    ProcessResult r;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) {
        return r;
    }
    std::array<char, 4096> buffer{};
    size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
        r.output.append(buffer.data(), n);
    }
    const int raw = pclose(pipe);
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return r;
}

} // namespace klpemu::test
