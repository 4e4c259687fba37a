// The trace ring buffer (kernel/trace/ring_buffer.c, as `cat trace` shows it): the lines the
// tracers write, each stamped with the machine's one clock so the scenario transcript can merge
// them with text writes and machine events in execution order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace klpemu::patcher {

class TraceBuffer {
  public:
    // Appends a line written at global instruction count `instruction`.
    void add(std::string line, uint64_t instruction) {
        m_lines.push_back(std::move(line));
        m_clock.push_back(instruction);
    }
    const std::vector<std::string>& lines() const { return m_lines; }
    // The clock of line i. Contract: i < lines().size().
    uint64_t instruction(size_t i) const { return m_clock.at(i); }
    size_t size() const { return m_lines.size(); }
    void clear() {
        m_lines.clear();
        m_clock.clear();
    }

  private:
    std::vector<std::string> m_lines;
    std::vector<uint64_t> m_clock;
};

} // namespace klpemu::patcher
