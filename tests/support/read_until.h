// Reads a child's output (a pseudo-terminal or a pipe) until a string appears: the interactive
// tests type a command, then wait for its answer.
#pragma once

#include <sys/select.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace klpemu::test {

// Reads from `fd` into `seen` until `needle` appears in it, the other end closes, or `timeout`
// passes; true iff `needle` was seen.
inline bool read_until(int fd, std::string& seen, const std::string& needle,
                       std::chrono::seconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (seen.find(needle) == std::string::npos) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        fd_set set;
        FD_ZERO(&set);
        FD_SET(fd, &set);
        timeval tv{0, 100000};
        if (select(fd + 1, &set, nullptr, nullptr, &tv) > 0) {
            char buf[4096];
            const ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) {
                return seen.find(needle) != std::string::npos;
            }
            seen.append(buf, size_t(n));
        }
    }
    return true;
}

} // namespace klpemu::test
