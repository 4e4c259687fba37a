// The run transcript (see transcript.h).
#include "scenarios/transcript.h"

#include <fmt/format.h>

namespace klpemu::scenario {

void Transcript::action(std::string_view text, LineKind kind) {
    m_lines.push_back(fmt::format("% {}", text));
    m_kinds.push_back(kind);
}

void Transcript::event(std::string_view line, LineKind kind) {
    // One event is one line: embedded newlines would make goldens ambiguous.
    size_t start = 0;
    while (start <= line.size()) {
        const auto end = line.find('\n', start);
        m_lines.emplace_back(line.substr(start, end == std::string_view::npos ? end : end - start));
        m_kinds.push_back(kind);
        if (end == std::string_view::npos) {
            break;
        }
        start = end + 1;
    }
}

void Transcript::finding(const Finding& f) {
    m_lines.push_back(finding_line(f));
    m_kinds.push_back(LineKind::Other);
}

std::string Transcript::str() const {
    std::string out;
    for (const auto& line : m_lines) {
        out += line;
        out += '\n';
    }
    return out;
}

std::string finding_line(const Finding& f) {
    std::string out = fmt::format("{}: {}:", severity_name(f.severity), f.kind);
    if (!f.where.empty()) {
        out += fmt::format(" {}:", f.where);
    }
    out += fmt::format(" {}", f.message);
    if (!f.task.empty()) {
        out += fmt::format(" [{}]", f.task);
    }
    return out;
}

} // namespace klpemu::scenario
