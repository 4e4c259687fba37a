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

// Where a transcript line came from; the text is the same whatever the kind, the kind only
// selects lines for views such as the selftests' (kselftest_view.h).
enum class LineKind {
    Action,      // `% text` of a timeline step.
    ShellLog,    // `% text` of a shell step the selftests log to the kernel log (insmod, ...).
    KernelLog,   // A kernel log line (printk, the livepatch core, /dev/kmsg writes).
    ShellOutput, // What a shell command printed (cat's output, error messages).
    Other,       // Task and IRQ events, text writes, findings, the runner's remarks.
};

class Transcript {
  public:
    // Records a timeline action as `% text`; `kind` is Action or ShellLog.
    void action(std::string_view text, LineKind kind = LineKind::Action);
    // Records one event line (a log line, a call result, a task event, a finding).
    void event(std::string_view line, LineKind kind = LineKind::Other);
    // Records a finding as `error: KIND: WHERE: MESSAGE`.
    void finding(const Finding& f);

    const std::vector<std::string>& lines() const { return m_lines; }
    // kinds()[i] is the kind of lines()[i].
    const std::vector<LineKind>& kinds() const { return m_kinds; }
    // All lines, each ending in '\n'.
    std::string str() const;

  private:
    std::vector<std::string> m_lines;
    std::vector<LineKind> m_kinds;
};

// The transcript line for a finding (also used by the text report).
std::string finding_line(const Finding& f);

} // namespace klpemu::scenario
