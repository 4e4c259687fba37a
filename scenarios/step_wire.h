// The wire between the processes of a checkpointed stepping session (step_checkpoints.h): the
// front end, the session process, and the checkpoints it forked. Messages are frames (an
// 8-byte length, then the bytes) on a stream socket, optionally carrying file descriptors
// (SCM_RIGHTS), so a session can hand its front-end socket, a gdb connection and the other
// checkpoints' control sockets to the process that takes over. WireWriter and WireReader turn
// the values a handoff carries into bytes and back; both ends are the same binary, so the
// format is native-endian and unversioned.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::scenario {

class WireWriter {
  public:
    void u64(uint64_t v);
    void i64(int64_t v) { u64(uint64_t(v)); }
    void str(std::string_view s);
    const std::string& bytes() const { return m_bytes; }

  private:
    std::string m_bytes;
};

class WireReader {
  public:
    explicit WireReader(std::string bytes) : m_bytes(std::move(bytes)) {}
    // Reads past the end give 0 / "" and set failed().
    uint64_t u64();
    int64_t i64() { return int64_t(u64()); }
    std::string str();
    bool failed() const { return m_failed; }

  private:
    std::string m_bytes;
    size_t m_pos = 0;
    bool m_failed = false;
};

// Sends one frame with `fds` attached; false if the peer is gone. Retries on EINTR.
bool send_frame(int fd, std::string_view bytes, const std::vector<int>& fds = {});
// Receives one frame and the descriptors attached to it (appended to `fds` when non-null);
// nullopt at end of file or on error.
std::optional<std::string> recv_frame(int fd, std::vector<int>* fds = nullptr);

} // namespace klpemu::scenario
