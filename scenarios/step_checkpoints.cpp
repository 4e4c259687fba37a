// See step_checkpoints.h: the session's list of checkpoints, and a checkpoint's wait for orders.
#include "scenarios/step_checkpoints.h"

#include "emu/check.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace klpemu::scenario {

uint64_t CheckpointStore::next_due(uint64_t clock) const {
    if (!enabled()) {
        return UINT64_MAX;
    }
    const uint64_t interval = m_options.interval;
    uint64_t bucket = std::max<uint64_t>(1, clock / interval);
    for (const Checkpoint& c : m_list) {
        if (c.clock / interval == bucket) {
            ++bucket; // Ascending clocks: the next bucket may be taken too.
        }
    }
    if (bucket > UINT64_MAX / interval) {
        return UINT64_MAX;
    }
    return std::max(clock, bucket * interval);
}

void CheckpointStore::add(Checkpoint c) {
    ++m_taken;
    auto at = std::upper_bound(m_list.begin(), m_list.end(), c.clock,
                               [](uint64_t clock, const Checkpoint& k) { return clock < k.clock; });
    m_list.insert(at, c);
    while (m_list.size() > std::max<size_t>(m_options.max, 3)) {
        // The one whose neighbours are closest; never the first, the last, or the one just
        // taken (the session is there now, and likely to step back near it).
        size_t victim = 0;
        uint64_t best = UINT64_MAX;
        for (size_t i = 1; i + 1 < m_list.size(); ++i) {
            const uint64_t gap = m_list[i + 1].clock - m_list[i - 1].clock;
            if (gap < best && m_list[i].pid != c.pid) {
                best = gap;
                victim = i;
            }
        }
        KLP_CHECK(victim != 0, "checkpoints: nothing to drop among {}", m_list.size());
        drop(m_list[victim].pid);
    }
}

std::optional<Checkpoint> CheckpointStore::at_or_before(uint64_t clock) const {
    for (size_t i = m_list.size(); i-- > 0;) {
        if (m_list[i].clock <= clock) {
            return m_list[i];
        }
    }
    return std::nullopt;
}

std::optional<Checkpoint> CheckpointStore::before(uint64_t clock) const {
    return clock == 0 ? std::nullopt : at_or_before(clock - 1);
}

void CheckpointStore::drop(int pid) {
    auto it = std::find_if(m_list.begin(), m_list.end(),
                           [pid](const Checkpoint& c) { return c.pid == pid; });
    if (it == m_list.end()) {
        return;
    }
    WireWriter w;
    w.u64(uint64_t(CheckpointOrder::Exit));
    send_frame(it->fd, w.bytes());
    ::close(it->fd);
    m_list.erase(it);
}

void CheckpointStore::drop_after(uint64_t clock) {
    while (!m_list.empty() && m_list.back().clock > clock) {
        drop(m_list.back().pid);
    }
}

void CheckpointStore::reap() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
}

void CheckpointStore::save(WireWriter& out, std::vector<int>& fds) const {
    out.u64(m_options.interval);
    out.u64(m_options.max);
    out.i64(m_options.lifeline);
    out.u64(m_taken);
    out.u64(m_list.size());
    for (const Checkpoint& c : m_list) {
        out.u64(c.clock);
        out.i64(c.pid);
        fds.push_back(c.fd);
    }
}

void CheckpointStore::adopt(WireReader& in, const std::vector<int>& fds) {
    m_options.interval = in.u64();
    m_options.max = in.u64();
    m_options.lifeline = int(in.i64());
    m_taken = in.u64();
    const uint64_t n = in.u64();
    m_list.clear();
    for (uint64_t i = 0; i < n && i < fds.size() && !in.failed(); ++i) {
        Checkpoint c;
        c.clock = in.u64();
        c.pid = int(in.i64());
        c.fd = fds[i];
        m_list.push_back(c);
    }
}

std::vector<int> CheckpointStore::fds() const {
    std::vector<int> out;
    for (const Checkpoint& c : m_list) {
        out.push_back(c.fd);
    }
    return out;
}

void CheckpointStore::forget_in_child() {
    for (const Checkpoint& c : m_list) {
        ::close(c.fd);
    }
    m_list.clear();
}

std::pair<std::string, std::vector<int>> checkpoint_wait(int control, int lifeline) {
    while (true) {
        pollfd p[2] = {{control, POLLIN, 0}, {lifeline, POLLIN, 0}};
        const int n = ::poll(p, lifeline >= 0 ? 2 : 1, 1000);
        CheckpointStore::reap(); // Workers that ended (and their checkpoints are reparented
                                 // elsewhere).
        if (n < 0 && errno != EINTR) {
            ::_exit(0);
        }
        if (n <= 0) {
            continue;
        }
        if (lifeline >= 0 && p[1].revents != 0) {
            ::_exit(0); // The front end has gone: the session is over.
        }
        if (p[0].revents == 0) {
            continue;
        }
        std::vector<int> fds;
        auto frame = recv_frame(control, &fds);
        if (!frame) {
            ::_exit(0);
        }
        WireReader r(std::move(*frame));
        if (CheckpointOrder(r.u64()) != CheckpointOrder::Handoff) {
            ::_exit(0);
        }
        std::string payload = r.str();
        std::fflush(nullptr);
        const pid_t worker = ::fork();
        WireWriter ack;
        ack.i64(worker > 0 ? worker : 0);
        if (worker == 0) {
            ::close(control);
            return {std::move(payload), std::move(fds)};
        }
        for (int fd : fds) {
            ::close(fd); // The worker has them; the checkpoint stays as it was.
        }
        send_frame(control, ack.bytes());
    }
}

} // namespace klpemu::scenario
