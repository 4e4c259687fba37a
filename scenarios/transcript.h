// The transcript of a scenario run: `% action` lines, each followed by the events it caused,
// in the spirit of the kernel livepatch selftests' expected dmesg. Lines hold symbolized
// addresses only — no host pointers, no timestamps — so the same scenario and seed always give
// byte-identical text that can be kept as a golden file and diffed in review.
#pragma once

#include "emu/finding.h"

#include <string>
#include <string_view>
#include <vector>

namespace klpemu::scenario {

class Transcript {
  public:
    // Records a timeline action as `% text`.
    void action(std::string_view text);
    // Records one event line (a log line, a call result, a task event, a finding).
    void event(std::string_view line);
    // Records a finding as `error: KIND: WHERE: MESSAGE`.
    void finding(const Finding& f);

    const std::vector<std::string>& lines() const { return m_lines; }
    // All lines, each ending in '\n'.
    std::string str() const;

  private:
    std::vector<std::string> m_lines;
};

// The transcript line for a finding (also used by the text report).
std::string finding_line(const Finding& f);

} // namespace klpemu::scenario
