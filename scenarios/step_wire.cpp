// See step_wire.h.
#include "scenarios/step_wire.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace klpemu::scenario {

void WireWriter::u64(uint64_t v) {
    m_bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void WireWriter::str(std::string_view s) {
    u64(s.size());
    m_bytes.append(s);
}

uint64_t WireReader::u64() {
    uint64_t v = 0;
    if (m_pos + sizeof v > m_bytes.size()) {
        m_failed = true;
        return 0;
    }
    std::memcpy(&v, m_bytes.data() + m_pos, sizeof v);
    m_pos += sizeof v;
    return v;
}

std::string WireReader::str() {
    const uint64_t n = u64();
    if (m_failed || n > m_bytes.size() - m_pos) {
        m_failed = true;
        return {};
    }
    std::string s = m_bytes.substr(m_pos, n);
    m_pos += n;
    return s;
}

namespace {

bool write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= size_t(w);
    }
    return true;
}

bool read_all(int fd, char* p, size_t n) {
    while (n > 0) {
        const ssize_t r = ::recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= size_t(r);
    }
    return true;
}

constexpr size_t kMaxFds = 250; // Below the kernel's SCM_MAX_FD (253).

} // namespace

bool send_frame(int fd, std::string_view bytes, const std::vector<int>& fds) {
    uint64_t len = bytes.size();
    iovec iov{&len, sizeof len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control;
    if (!fds.empty()) {
        if (fds.size() > kMaxFds) {
            return false;
        }
        control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t w = -1;
    do {
        w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w <= 0) {
        return false;
    }
    // The header is 8 bytes: a short write of it on a stream socket is not expected, but the
    // rest of it (without descriptors) is sent like the payload.
    const char* header = reinterpret_cast<const char*>(&len);
    return write_all(fd, header + w, sizeof len - size_t(w)) &&
           write_all(fd, bytes.data(), bytes.size());
}

std::optional<std::string> recv_frame(int fd, std::vector<int>* fds) {
    uint64_t len = 0;
    iovec iov{&len, sizeof len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t r = -1;
    do {
        r = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        return std::nullopt;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < n; ++i) {
                int received = -1;
                std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (fds != nullptr) {
                    fds->push_back(received);
                } else {
                    ::close(received);
                }
            }
        }
    }
    char* header = reinterpret_cast<char*>(&len);
    if (!read_all(fd, header + r, sizeof len - size_t(r)) || len > (uint64_t(1) << 32)) {
        return std::nullopt;
    }
    std::string bytes(len, '\0');
    if (!read_all(fd, bytes.data(), bytes.size())) {
        return std::nullopt;
    }
    return bytes;
}

} // namespace klpemu::scenario
